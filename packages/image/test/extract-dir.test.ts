import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot } from '@bramble/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FileBlockSource } from '../src/block-source.js';
import { ImageError } from '../src/errors.js';
import { type ExtractProgress, extract, openExt4 } from '../src/index.js';
import {
  type BuiltImage,
  buildImage,
  buildTree,
  dumpTree,
  FEATURE_SETS,
  type FeatureSet,
  normaliseLinks,
  scratchDir,
  withMount,
} from './ext4-tree.js';

describe.runIf(isRoot())('extract to a directory (loop mount oracle)', () => {
  let work: string;
  let tree: string;
  beforeAll(async () => {
    work = await mkdtemp(join(scratchDir(), 'bramble-extract-'));
    tree = join(work, 'tree');
    await buildTree(tree);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  // trixie adds only superblock features the reader test covers; extraction runs the other four
  for (const features of (Object.keys(FEATURE_SETS) as FeatureSet[]).filter((f) => f !== 'trixie')) {
    describe(features, () => {
      let img: BuiltImage;
      beforeAll(async () => {
        img = await buildImage(tree, features);
      });
      afterAll(async () => {
        await img?.cleanup();
      });

      it('writes a tree identical to the mounted file system', async () => {
        const oracle = normaliseLinks(await withMount(img.path, (mnt) => dumpTree(mnt)));
        const src = await FileBlockSource.open(img.path);
        const to = join(img.dir, 'out');
        const events: ExtractProgress[] = [];
        try {
          const fs = await openExt4(src);
          const r = await extract(fs, { to, onProgress: (p) => events.push(p) });
          expect(r.format).toBe('dir');
          expect(r.hardlinks).toBe(2);
          expect(r.devices).toBe(3);
          expect(r.fifos).toBe(1);
          expect(r.sockets).toBe(1);
          expect(r.skipped).toEqual({ ownership: false, devices: 0, xattrs: 0, sockets: 0 });
        } finally {
          await src.close();
        }
        const mine = normaliseLinks(await dumpTree(to));
        expect(Object.keys(mine).sort()).toEqual(Object.keys(oracle).sort());
        for (const [p, e] of Object.entries(oracle))
          expect({ path: p, ...mine[p] }).toEqual({ path: p, ...e });
        // holes stay holes: the 64 MiB sparse file occupies about its 70 kB of data
        const st = await stat(join(to, 'sparse.img'));
        expect(st.size).toBe(64 * 1024 * 1024);
        expect(st.blocks * 512).toBeLessThan(2 * 1024 * 1024);
        // progress reached the totals
        const last = events[events.length - 1];
        expect(last?.phase).toBe('finish');
        expect(last?.files).toBe(last?.totalFiles);
        expect(last?.bytes).toBeGreaterThan(0);
        await expect(lstat(`${to}.partial`)).rejects.toThrow();
      });
    });
  }

  describe('destination and privilege rules', () => {
    let img: BuiltImage;
    beforeAll(async () => {
      img = await buildImage(tree, 'debian');
    });
    afterAll(async () => {
      vi.restoreAllMocks();
      await img?.cleanup();
    });

    it('refuses a non-empty destination unless overwrite, which replaces only an earlier extraction', async () => {
      const src = await FileBlockSource.open(img.path);
      try {
        const fs = await openExt4(src);
        const to = join(img.dir, 'occupied');
        await mkdir(to);
        await writeFile(join(to, 'keep-me'), 'x');
        const err = await extract(fs, { to }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ImageError);
        expect((err as ImageError).code).toBe('DESTINATION_NOT_EMPTY');
        expect(await readdir(to)).toEqual(['keep-me']);
        // overwrite replaces only an earlier extraction, never a directory it did not write
        const foreign = await extract(fs, { to, overwrite: true }).catch((e: unknown) => e);
        expect((foreign as ImageError).code).toBe('DESTINATION_FOREIGN');
        expect(await readdir(to)).toEqual(['keep-me']);
        const earlier = join(img.dir, 'earlier');
        await extract(fs, { to: earlier });
        await writeFile(join(earlier, 'added-later'), 'x');
        await extract(fs, { to: earlier, overwrite: true });
        expect((await readdir(earlier)).includes('added-later')).toBe(false);
        expect((await readdir(earlier)).includes('hello.txt')).toBe(true);
      } finally {
        await src.close();
      }
    });

    it('owners and modes are the image’s whatever the umask, and under a setgid parent of another group', async () => {
      const oracle = normaliseLinks(await withMount(img.path, (mnt) => dumpTree(mnt)));
      // new files would take this directory's group (setgid), and the umask would clear mode bits
      const parent = join(img.dir, 'setgid-parent');
      await mkdir(parent);
      await chown(parent, 0, 4321);
      await chmod(parent, 0o2777);
      const src = await FileBlockSource.open(img.path);
      const saved = process.umask(0o022);
      try {
        const fs = await openExt4(src);
        for (const [name, umask] of [
          ['umask-000', 0o000],
          ['umask-077', 0o077],
        ] as const) {
          process.umask(umask);
          const to = join(parent, name);
          await extract(fs, { to });
          const mine = normaliseLinks(await dumpTree(to));
          expect(Object.keys(mine).sort()).toEqual(Object.keys(oracle).sort());
          for (const [p, e] of Object.entries(oracle)) {
            const { atime: _a, ...want } = e;
            const { atime: _b, ...got } = mine[p] ?? e;
            expect({ path: p, umask, ...got }).toEqual({ path: p, umask, ...want });
          }
        }
      } finally {
        process.umask(saved);
        await src.close();
      }
    });

    it('bad input is a typed error: invalid options, a parent that is a file, an unknown partition', async () => {
      const src = await FileBlockSource.open(img.path);
      try {
        const fs = await openExt4(src);
        const e1 = await extract(fs, { to: '' }).catch((e: unknown) => e);
        expect((e1 as ImageError).code).toBe('INVALID_OPTIONS');
        const e2 = await extract(fs, { to: join(img.path, 'under-a-file') }).catch((e: unknown) => e);
        expect(e2).toBeInstanceOf(ImageError);
        expect((e2 as ImageError).code).toBe('IO');
        const e3 = await extract(img.path, { partition: 7, to: join(img.dir, 'p7') }).catch(
          (e: unknown) => e,
        );
        expect((e3 as ImageError).code).toBe('NO_SUCH_PARTITION');
        // A destination whose parents do not exist yet is created like `mkdir -p`.
        const nested = join(img.dir, 'new', 'nested', 'dest');
        await extract(fs, { to: nested });
        expect((await stat(join(nested, 'bin', 'ping'))).isFile()).toBe(true);
      } finally {
        await src.close();
      }
    });

    it('cancels with ABORTED and leaves neither the destination nor <to>.partial', async () => {
      const src = await FileBlockSource.open(img.path);
      try {
        const fs = await openExt4(src);
        const to = join(img.dir, 'aborted');
        const ac = new AbortController();
        // Cancel in the middle of the write phase, deterministically: the writer reads each entry's
        // xattrs as it writes it (progress events are throttled to 100 ms, longer than this whole write).
        let entriesWritten = 0;
        const cancelling = new Proxy(fs, {
          get(target, prop) {
            const value = Reflect.get(target, prop, target);
            if (typeof value !== 'function') return value;
            if (prop !== 'xattrs') return value.bind(target);
            return (...args: unknown[]) => {
              if (++entriesWritten === 100) ac.abort();
              return value.apply(target, args);
            };
          },
        });
        const err = await extract(cancelling, { to, signal: ac.signal }).catch((e: unknown) => e);
        expect(entriesWritten).toBe(100);
        expect((err as ImageError).code).toBe('ABORTED');
        await expect(lstat(to)).rejects.toThrow();
        await expect(lstat(`${to}.partial`)).rejects.toThrow();
      } finally {
        await src.close();
      }
    });

    it('without root: one NEEDS_ROOT error naming allowNonRoot and tar; allowNonRoot skips only the privileged parts', async () => {
      const src = await FileBlockSource.open(img.path);
      const spy = vi.spyOn(process, 'getuid').mockReturnValue(1000);
      try {
        const fs = await openExt4(src);
        const to = join(img.dir, 'nonroot');
        const err = await extract(fs, { to }).catch((e: unknown) => e);
        expect((err as ImageError).code).toBe('NEEDS_ROOT');
        expect((err as Error).message).toMatch(/allowNonRoot/);
        expect((err as Error).message).toMatch(/tar/);
        await expect(lstat(to)).rejects.toThrow();
        const r = await extract(fs, { to, allowNonRoot: true });
        expect(r.skipped.ownership).toBe(true);
        expect(r.skipped.devices).toBe(3);
        expect(r.skipped.xattrs).toBeGreaterThanOrEqual(2); // security.capability, trusted.secret
        const sudo = await stat(join(to, 'bin', 'sudo'));
        expect(sudo.mode & 0o7777).toBe(0o4755);
        await expect(lstat(join(to, 'dev', 'null'))).rejects.toThrow();
        expect((await lstat(join(to, 'dev', 'fifo'))).isFIFO()).toBe(true);
      } finally {
        spy.mockRestore();
        await src.close();
      }
    });
  });
});
