import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBlockSource } from '../src/block-source.js';
import { paxRecord, paxTime, ustarHeader } from '../src/extract/pax.js';
import { extract, openExt4 } from '../src/index.js';
import {
  type BuiltImage,
  buildImage,
  buildTree,
  type DumpEntry,
  dumpTree,
  type FeatureSet,
  normaliseLinks,
  scratchDir,
  withMount,
} from './ext4-tree.js';

describe('pax encoding', () => {
  it('length-prefixes records by bytes, keeping binary values intact', () => {
    const v = Buffer.from([0x00, 0xff, 0x0a, 0x80, 0xc3]);
    const r = paxRecord('SCHILY.xattr.user.bin', v);
    const len = Number(r.subarray(0, r.indexOf(0x20)).toString());
    expect(len).toBe(r.length);
    expect(r.subarray(r.indexOf(0x3d) + 1, r.length - 1).equals(v)).toBe(true);
    // a record whose length crosses a digit boundary (9 → 10, 99 → 100)
    for (let n = 80; n < 110; n++) {
      const rec = paxRecord('k', 'x'.repeat(n));
      expect(Number(rec.subarray(0, rec.indexOf(0x20)).toString())).toBe(rec.length);
    }
  });
  it('writes exact ns times, including before 1970', () => {
    expect(paxTime(1_614_834_367_123_456_789n)).toBe('1614834367.123456789');
    expect(paxTime(-1_500_000_000n)).toBe('-1.5');
    expect(paxTime(5_000_000_000n)).toBe('5');
  });
  it('ustar headers carry a valid checksum', () => {
    const h = ustarHeader({ name: 'a', mode: 0o4755, uid: 0, gid: 0, size: 3, mtime: 1, type: '0' });
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    expect(Number.parseInt(h.subarray(148, 154).toString(), 8)).toBe(sum);
  });
});

describe.runIf(isRoot())('extract to a pax archive, applied by GNU tar (loop mount oracle)', () => {
  let work: string;
  let tree: string;
  beforeAll(async () => {
    requireTool('tar');
    work = await mkdtemp(join(scratchDir(), 'bramble-tar-'));
    tree = join(work, 'tree');
    await buildTree(tree);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  // GNU tar cannot restore atime (it sets "now") and has no socket type: compare everything else.
  const comparable = (d: Record<string, DumpEntry>): Record<string, Omit<DumpEntry, 'atime'>> => {
    const out: Record<string, Omit<DumpEntry, 'atime'>> = {};
    for (const [p, e] of Object.entries(d)) {
      if (e.type === 'socket') continue;
      const { atime: _a, ...rest } = e;
      out[p] = rest;
    }
    return out;
  };

  for (const features of ['debian', 'ext2'] as FeatureSet[]) {
    describe(features, () => {
      let img: BuiltImage;
      beforeAll(async () => {
        img = await buildImage(tree, features);
      });
      afterAll(async () => {
        await img?.cleanup();
      });

      it('tar --xattrs -xpf of the archive equals the mounted file system', async () => {
        const oracle = comparable(normaliseLinks(await withMount(img.path, (mnt) => dumpTree(mnt))));
        const src = await FileBlockSource.open(img.path);
        const archive = join(img.dir, 'root.tar');
        try {
          const fs = await openExt4(src);
          const r = await extract(fs, { to: archive, format: 'tar' });
          expect(r.skipped.sockets).toBe(1);
          expect(r.hardlinks).toBe(2);
        } finally {
          await src.close();
        }
        const raw = await readFile(archive);
        // the 64 MiB sparse file travels as GNU sparse 1.0: the archive stays small, holes come back
        expect(raw.length).toBeLessThan(16 * 1024 * 1024);
        expect(raw.includes('GNU.sparse.realsize=67108864\n')).toBe(true);
        expect(raw.includes('atime=1614834367.123456789\n')).toBe(true);
        const out = join(img.dir, 'from-tar');
        await mkdir(out);
        await execa('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', archive, '-C', out]);
        const mine = comparable(normaliseLinks(await dumpTree(out)));
        expect(Object.keys(mine).sort()).toEqual(Object.keys(oracle).sort());
        for (const [p, e] of Object.entries(oracle))
          expect({ path: p, ...mine[p] }).toEqual({ path: p, ...e });
        expect(mine['/bin/ping']?.xattrs['security.capability']).toBeDefined();
        expect(mine['/bin/sudo']?.mode).toBe(0o4755);
        const sparse = await stat(join(out, 'sparse.img'));
        expect(sparse.size).toBe(64 * 1024 * 1024);
        expect(sparse.blocks * 512).toBeLessThan(2 * 1024 * 1024);
        // the archive is a valid tar for other readers too: GNU tar lists every member
        const list = await execa('tar', ['-tf', archive]);
        expect(list.stdout.split('\n')).toContain('dev/null');
      });
    });
  }
});
