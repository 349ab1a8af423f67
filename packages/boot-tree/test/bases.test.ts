/**
 * The image store's bases (shared-root/bases.ts) on real directories: which base is current, which
 * nodes name which base (layout basePath, cmdline.txt bramble.base=), pruning, all-or-nothing removal.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot } from '@bramble/testkit';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  baseUsers,
  currentBaseName,
  exportsFile,
  ganeshaConfig,
  listBases,
  newBaseName,
  patchSharedCmdline,
  pruneBases,
  removeImageBases,
  withOlderBases,
} from '../src/index.js';

let work: string;
let images: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'bramble-bases-'));
  images = join(work, 'images');
  for (const dir of ['os', 'os@20260101T000000Z', 'os@20260201T000000Z', 'other'])
    await mkdir(join(images, dir, 'root/etc'), { recursive: true });
  await writeFile(join(images, 'os.current'), 'os@20260201T000000Z\n');
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A node whose TFTP cmdline.txt names `base` (a shared-root cmdline as provisioning writes it). */
async function nodeOn(hostname: string, base: string) {
  const tftpDir = join(work, 'tftp', hostname);
  await mkdir(tftpDir, { recursive: true });
  const cmdline = patchSharedCmdline('console=tty1 root=PARTUUID=1-02 rootwait\n', {
    nfsServer: '10.0.0.1',
    basePath: join(images, base, 'root'),
    layerPath: join(work, 'nfs', hostname),
    upper: 'volume',
    nfsVersion: '3',
  });
  await writeFile(join(tftpDir, 'cmdline.txt'), cmdline);
  return { hostname, tftpDir };
}

describe('store bases', () => {
  it('names new bases by UTC time and reads NAME.current (absent: NAME; foreign: INVALID_INPUT)', async () => {
    expect(newBaseName('os', new Date('2026-12-01T06:15:00.123Z'))).toBe('os@20261201T061500Z');
    expect(() => newBaseName('../x')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(currentBaseName(images, 'os')).toBe('os@20260201T000000Z');
    expect(currentBaseName(images, 'other')).toBe('other');
    await writeFile(join(images, 'other.current'), '../../etc\n');
    expect(() => currentBaseName(images, 'other')).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });

  it('finds the nodes naming each base from layouts and cmdline.txt', async () => {
    const users = await baseUsers([
      await nodeOn('a', 'os@20260101T000000Z'),
      { hostname: 'b', basePath: join(images, 'os', 'root') },
      { hostname: 'c', tftpDir: join(work, 'missing') }, // never provisioned: names nothing
    ]);
    const bases = await listBases(images, 'os', users);
    expect(bases.map((b) => [b.name, b.current, b.usedBy])).toEqual([
      ['os', false, ['b']],
      ['os@20260101T000000Z', false, ['a']],
      ['os@20260201T000000Z', true, []],
    ]);
  });

  it('prunes unused old bases only (dry run deletes nothing), never the current one or another image', async () => {
    const users = await baseUsers([await nodeOn('a', 'os@20260101T000000Z')]);
    const dry = await pruneBases({ imagesDir: images, images: ['os'], users, dryRun: true });
    expect(dry.removed.map((b) => b.name)).toEqual(['os']);
    expect(existsSync(join(images, 'os'))).toBe(true);
    const done = await pruneBases({ imagesDir: images, images: ['os'], users });
    expect(done.removed.map((b) => b.name)).toEqual(['os']);
    expect(done.kept.map((b) => b.name)).toEqual(['os@20260101T000000Z', 'os@20260201T000000Z']);
    expect((await readdir(images)).sort()).toEqual(
      ['os.current', 'os@20260101T000000Z', 'os@20260201T000000Z', 'other'].sort(),
    );
  });

  it('refuses to prune when NAME.current names a base that is gone', async () => {
    await writeFile(join(images, 'os.current'), 'os@20270101T000000Z\n');
    await expect(pruneBases({ imagesDir: images, images: ['os'], users: [] })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(existsSync(join(images, 'os'))).toBe(true);
  });

  it('removeImageBases: IN_USE (nothing removed) while a node names a base; then every base and NAME.current go', async () => {
    const users = await baseUsers([await nodeOn('a', 'os')]);
    await expect(removeImageBases(images, 'os', users)).rejects.toMatchObject({ code: 'IN_USE' });
    expect((await readdir(images)).length).toBe(5);
    const removed = await removeImageBases(images, 'os', []);
    expect(removed.map((b) => b.name)).toEqual(['os', 'os@20260101T000000Z', 'os@20260201T000000Z']);
    expect(await readdir(images)).toEqual(['other']);
  });

  it.skipIf(!isRoot())(
    'a base that cannot be moved aside (a mount point) leaves every base in place',
    async () => {
      const busy = join(images, 'os@20260101T000000Z');
      await execa('mount', ['-t', 'tmpfs', 'bramble-bases-test', busy]);
      try {
        await expect(pruneBases({ imagesDir: images, images: ['os'], users: [] })).rejects.toMatchObject({
          code: 'REMOVE_FAILED',
        });
        expect((await readdir(images)).sort()).toEqual(
          ['os', 'os.current', 'os@20260101T000000Z', 'os@20260201T000000Z', 'other'].sort(),
        );
      } finally {
        await execa('umount', [busy]);
      }
    },
  );
});

describe('old bases stay exported until pruned', () => {
  it("a node on the newest base still gets the image's older bases read-only, scoped to it", async () => {
    const node = (hostname: string, address: string, base: string) => ({
      hostname,
      address,
      rootPath: join(work, 'nfs', hostname),
      basePath: join(images, base, 'root'),
      bootPath: join(work, 'tftp', hostname),
      nfsVersion: '3' as const,
      usesInitramfs: true,
    });
    const copyNode = { ...node('c1', '10.0.0.13', 'os'), basePath: undefined };
    const [a, b, c] = await withOlderBases([
      node('n1', '10.0.0.11', 'os@20260201T000000Z'),
      node('n2', '10.0.0.12', 'other'),
      copyNode,
    ]);
    expect(a?.olderBasePaths).toEqual([
      join(images, 'os', 'root'),
      join(images, 'os@20260101T000000Z', 'root'),
    ]);
    expect(b?.olderBasePaths).toBeUndefined(); // 'other' has one base
    expect(c).toBe(copyNode);
    const exports = exportsFile(
      [a, b, c].filter((n) => n !== undefined),
      {},
    );
    for (const old of ['os', 'os@20260101T000000Z'])
      expect(exports).toMatch(
        new RegExp(`^"?${join(images, old, 'root')}"?\\s+10\\.0\\.0\\.11\\(ro[,)]`, 'm'),
      );
    const ganesha = ganeshaConfig(
      [a, b, c].filter((n) => n !== undefined),
      {},
    );
    expect(ganesha).toContain(`Path = "${join(images, 'os@20260101T000000Z', 'root')}"`);
    // Pruned: the old bases go from the exports too.
    await rm(join(images, 'os'), { recursive: true });
    await rm(join(images, 'os@20260101T000000Z'), { recursive: true });
    const [after] = await withOlderBases([node('n1', '10.0.0.11', 'os@20260201T000000Z')]);
    expect(after?.olderBasePaths).toBeUndefined();
  });
});
