/**
 * Where extraction may write (issue 12, `--overwrite`): overwrite replaces only an earlier
 * extraction (the marker beside it names its device and inode), never a directory extraction did
 * not write, never `/` or the home directory; destinations of one extraction are neither the same
 * nor nested; partitions are committed together, so a failure leaves none of them. A sentinel
 * directory's sha256 tree proves nothing else was touched.
 */
import { lstat, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot } from '@bramble/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DestinationError, type ImageError } from '../../src/errors.js';
import { extract, extractPartitions } from '../../src/index.js';
import { type BuiltDisk, buildPiDisk } from '../helpers/images.js';
import { makeSentinel, scratch, treeDigest } from './hostile.js';

let work: string;
let disk: BuiltDisk;
const realHome = process.env.HOME;
beforeAll(async () => {
  work = await scratch('dest');
  disk = await buildPiDisk(join(work, 'disk'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(() => {
  process.env.HOME = realHome;
});

const options = { allowNonRoot: !isRoot() };
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
let n = 0;
const fresh = async () => {
  const dir = join(work, `case-${++n}`);
  await mkdir(dir);
  return dir;
};

describe('overwrite', () => {
  it('never empties a directory extraction did not write: DESTINATION_FOREIGN, untouched', async () => {
    const parent = await fresh();
    const to = join(parent, 'root');
    const digest = await makeSentinel(to);
    const e = await failure(extract(disk.path, { partition: 2, to, overwrite: true, ...options }));
    expect(e).toBeInstanceOf(DestinationError);
    expect((e as ImageError).code).toBe('DESTINATION_FOREIGN');
    expect(await treeDigest(to)).toEqual(digest);
    expect((await readdir(parent)).sort()).toEqual(['root']);
  });

  it('replaces an earlier extraction, and nothing beside it', async () => {
    const parent = await fresh();
    const to = join(parent, 'root');
    const sentinel = await makeSentinel(join(parent, 'sentinel'));
    await extract(disk.path, { partition: 2, to, ...options });
    await writeFile(join(to, 'added-after-extraction'), 'x');
    await extract(disk.path, { partition: 2, to, overwrite: true, ...options });
    expect(await readdir(to)).not.toContain('added-after-extraction');
    expect(await readdir(to)).toContain('etc');
    expect(await treeDigest(join(parent, 'sentinel'))).toEqual(sentinel);
    // the marker beside it, nothing else
    expect((await readdir(parent)).sort()).toEqual(['.root.bramble-extract.json', 'root', 'sentinel']);
  });

  it('refuses a directory that replaced an earlier extraction (the marker no longer matches)', async () => {
    const parent = await fresh();
    const to = join(parent, 'root');
    await extract(disk.path, { partition: 2, to, ...options });
    await rm(to, { recursive: true });
    const digest = await makeSentinel(to);
    const e = await failure(extract(disk.path, { partition: 2, to, overwrite: true, ...options }));
    expect((e as ImageError).code).toBe('DESTINATION_FOREIGN');
    expect(await treeDigest(to)).toEqual(digest);
  });

  it('without overwrite a non-empty destination is DESTINATION_NOT_EMPTY, even an earlier extraction', async () => {
    const parent = await fresh();
    const to = join(parent, 'root');
    await extract(disk.path, { partition: 2, to, ...options });
    const e = await failure(extract(disk.path, { partition: 2, to, ...options }));
    expect((e as ImageError).code).toBe('DESTINATION_NOT_EMPTY');
  });
});

describe('protected destinations', () => {
  it('/ is DESTINATION_PROTECTED, with or without overwrite, before the image is even opened', async () => {
    const plain = await failure(extract(disk.path, { partition: 2, to: '/', ...options }));
    expect((plain as ImageError).code).toBe('DESTINATION_PROTECTED');
    // partition 99 does not exist: an implementation that opened the image first would say NO_SUCH_PARTITION
    const forced = await failure(extract(disk.path, { partition: 99, to: '/', overwrite: true, ...options }));
    expect((forced as ImageError).code).toBe('DESTINATION_PROTECTED');
  });

  it('a symlink to / is DESTINATION_PROTECTED and stays a symlink', async () => {
    const parent = await fresh();
    const link = join(parent, 'looks-harmless');
    await symlink('/', link);
    const e = await failure(extract(disk.path, { partition: 1, to: link, overwrite: true, ...options }));
    expect((e as ImageError).code).toBe('DESTINATION_PROTECTED');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
  });

  it('$HOME is DESTINATION_PROTECTED with overwrite, and untouched', async () => {
    const home = join(await fresh(), 'home');
    const digest = await makeSentinel(home);
    process.env.HOME = home;
    const e = await failure(extract(disk.path, { partition: 1, to: home, overwrite: true, ...options }));
    expect((e as ImageError).code).toBe('DESTINATION_PROTECTED');
    expect(await treeDigest(home)).toEqual(digest);
  });
});

describe('several partitions at once', () => {
  it('identical destinations are DESTINATION_CONFLICT, and nothing is created', async () => {
    const parent = await fresh();
    const to = join(parent, 'both');
    const digest = await makeSentinel(to);
    const e = await failure(
      extractPartitions(disk.path, {
        targets: [
          { partition: 1, to },
          { partition: 2, to },
        ],
        overwrite: true,
        ...options,
      }),
    );
    expect((e as ImageError).code).toBe('DESTINATION_CONFLICT');
    expect(await treeDigest(to)).toEqual(digest);
    expect(await readdir(parent)).toEqual(['both']);
  });

  it('nested destinations are DESTINATION_CONFLICT', async () => {
    const parent = await fresh();
    const e = await failure(
      extractPartitions(disk.path, {
        targets: [
          { partition: 1, to: join(parent, 'root', 'boot') },
          { partition: 2, to: join(parent, 'root') },
        ],
        ...options,
      }),
    );
    expect((e as ImageError).code).toBe('DESTINATION_CONFLICT');
    expect(await readdir(parent)).toEqual([]);
  });

  it('commits together: when the second partition fails, the first is not left behind', async () => {
    const parent = await fresh();
    const e = await failure(
      extractPartitions(disk.path, {
        targets: [
          { partition: 1, to: join(parent, 'boot') },
          { partition: 7, to: join(parent, 'root') },
        ],
        ...options,
      }),
    );
    expect((e as ImageError).code).toBe('NO_SUCH_PARTITION');
    expect(await readdir(parent)).toEqual([]);
    const results = await extractPartitions(disk.path, {
      targets: [
        { partition: 1, to: join(parent, 'boot') },
        { partition: 2, to: join(parent, 'root') },
      ],
      ...options,
    });
    expect(results.map((r) => r.to)).toEqual([join(parent, 'boot'), join(parent, 'root')]);
    expect(await readdir(join(parent, 'boot'))).toContain('config.txt');
  });
});
