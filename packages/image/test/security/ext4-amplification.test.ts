/**
 * Hostile ext4 images that map the same physical blocks many times (issue 12, "extraction
 * amplification"): within one inode (extents or a block map that overlap) and across inodes
 * (files sharing blocks). Crafted with mke2fs -d and debugfs -w; the kernel (loop mount) and
 * e2fsck prove each image is what the test says. Extraction must refuse with the exact typed
 * error before writing anything: the destination's parent lists the same entries before and after
 * (no partial tree, no decompressed copy) and a sentinel directory's sha256 tree is unchanged.
 */
import { createHash } from 'node:crypto';
import { open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot } from '@bramble/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBlockSource } from '../../src/block-source.js';
import { type ImageError, OutputLimitError, OverlappingBlocksError } from '../../src/errors.js';
import { extract, extractPartitions, openExt4 } from '../../src/index.js';
import { withMount } from '../ext4-tree.js';
import { buildDisk, buildExt4, compress, pseudoRandom, writeTree } from '../helpers/images.js';
import {
  debugfsRead,
  debugfsWrite,
  e2fsckReport,
  ext4Geometry,
  extentRootCommands,
  extentsOf,
  inodeOf,
  makeSentinel,
  scratch,
  treeDigest,
} from './hostile.js';

const SMALL_FILES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

let work: string;
let tree: string;
beforeAll(async () => {
  work = await scratch('ext4');
  tree = await writeTree(join(work, 'tree'), {
    big: pseudoRandom(1024 * 1024, 11),
    ...Object.fromEntries(SMALL_FILES.map((n) => [n, `${n}\n`])),
  });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A small ext4 (no journal, few inodes: little metadata) holding `big` and the small files. */
async function baseImage(name: string, fsType: 'ext4' | 'ext2' = 'ext4'): Promise<string> {
  return buildExt4(join(work, name), {
    sizeMiB: 16,
    fsType,
    blockSize: 4096,
    ...(fsType === 'ext4' ? { features: '^has_journal' } : {}),
    fromDir: tree,
    extraArgs: ['-N', '64'],
  });
}

/** The longest extent of /big: the blocks the hostile files will share. */
async function sharedRun(image: string) {
  const extents = await extentsOf(image, '/big');
  const longest = extents.reduce((a, b) => (b.length > a.length ? b : a));
  expect(longest.length).toBeGreaterThan(16);
  return longest;
}

/** Extract, expecting an error; returns it with proof that nothing was written. */
async function refused(
  run: (to: string) => Promise<unknown>,
): Promise<{ error: unknown; parentBefore: string[]; parentAfter: string[]; sentinelSame: boolean }> {
  const parent = join(work, `out-${Math.random().toString(36).slice(2)}`);
  const sentinel = join(parent, 'sentinel');
  const digest = await makeSentinel(sentinel);
  const parentBefore = (await readdir(parent)).sort();
  const error = await run(join(parent, 'root')).then(
    () => undefined,
    (e: unknown) => e,
  );
  const parentAfter = (await readdir(parent)).sort();
  const sentinelSame = JSON.stringify(await treeDigest(sentinel)) === JSON.stringify(digest);
  return { error, parentBefore, parentAfter, sentinelSame };
}

async function extractFromFile(image: string, to: string, format: 'dir' | 'tar' = 'dir') {
  const src = await FileBlockSource.open(image);
  try {
    return await extract(await openExt4(src), { to, format });
  } finally {
    await src.close();
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('ext4: one inode whose extents map the same blocks four times', () => {
  let image: string;
  let ino: number;
  let run: { physical: number; length: number };
  beforeAll(async () => {
    image = await baseImage('overlap-extents.img');
    run = await sharedRun(image);
    ino = await inodeOf(image, '/a');
    const extents = [0, 1, 2, 3].map((k) => ({
      logical: k * run.length,
      physical: run.physical,
      length: run.length,
    }));
    await debugfsWrite(image, extentRootCommands('/a', extents, 4 * run.length * 4096));
  });

  it('is what the test says: e2fsck sees multiply-claimed blocks in that inode', async () => {
    const { exitCode, report } = await e2fsckReport(image);
    expect(exitCode).toBe(4);
    expect(report).toContain(`Multiply-claimed block(s) in inode ${ino}`);
    expect(await debugfsRead(image, 'ex /a')).toContain(`${3 * run.length} - `);
  });

  it.runIf(isRoot())(
    'is what the test says: the kernel serves /a as four copies of the same blocks',
    async () => {
      await withMount(image, async (mnt) => {
        const data = await readFile(join(mnt, 'a'));
        expect(data.length).toBe(4 * run.length * 4096);
        const quarter = run.length * 4096;
        const hashes = [0, 1, 2, 3].map((k) => sha(data.subarray(k * quarter, (k + 1) * quarter)));
        expect(new Set(hashes).size).toBe(1);
      });
    },
  );

  it('extraction refuses with OVERLAPPING_BLOCKS before writing anything', async () => {
    const r = await refused((to) => extractFromFile(image, to));
    expect(r.error).toBeInstanceOf(OverlappingBlocksError);
    expect((r.error as ImageError).code).toBe('OVERLAPPING_BLOCKS');
    expect((r.error as OverlappingBlocksError).ino).toBe(ino);
    expect((r.error as OverlappingBlocksError).block).toBe(run.physical);
    expect(r.parentAfter).toEqual(r.parentBefore);
    expect(r.sentinelSame).toBe(true);
  });

  it('so does tar extraction', async () => {
    const r = await refused((to) => extractFromFile(image, `${to}.tar`, 'tar'));
    expect((r.error as ImageError).code).toBe('OVERLAPPING_BLOCKS');
    expect(r.parentAfter).toEqual(r.parentBefore);
    expect(r.sentinelSame).toBe(true);
  });
});

describe('ext4: eight files sharing the blocks of a ninth, in a compressed disk image', () => {
  let image: string;
  let xz: string;
  let run: { physical: number; length: number };
  let used: number;
  beforeAll(async () => {
    image = await baseImage('shared-blocks.img');
    run = await sharedRun(image);
    const commands = SMALL_FILES.flatMap((n) =>
      extentRootCommands(
        `/${n}`,
        [{ logical: 0, physical: run.physical, length: run.length }],
        run.length * 4096,
      ),
    );
    await debugfsWrite(image, commands);
    const geometry = await ext4Geometry(image);
    used = (geometry.blocks - geometry.free) * geometry.blockSize;
    const disk = await buildDisk(join(work, 'shared-disk.img'), {
      table: 'mbr',
      partitions: [{ image, type: '83' }],
    });
    xz = await compress(disk.path, 'xz');
  });

  it('is what the test says: e2fsck sees every small file sharing blocks with /big', async () => {
    const { exitCode, report } = await e2fsckReport(image);
    expect(exitCode).toBe(4);
    for (const n of SMALL_FILES) expect(report).toMatch(new RegExp(`/${n} \\(inode #\\d+`));
    // the amplification: 8 x ~1 MB of output from a tiny compressed image
    const { size } = await open(xz).then(async (fh) => {
      const st = await fh.stat();
      await fh.close();
      return st;
    });
    expect(size).toBeLessThan(SMALL_FILES.length * run.length * 4096);
  });

  it.runIf(isRoot())(
    "is what the test says: the kernel serves each small file as /big's blocks",
    async () => {
      await withMount(image, async (mnt) => {
        const big = await readFile(join(mnt, 'big'));
        const a = await readFile(join(mnt, 'a'));
        expect(a.length).toBe(run.length * 4096);
        const found = big.indexOf(a.subarray(0, 4096));
        expect(found).toBeGreaterThanOrEqual(0);
        for (const n of SMALL_FILES) expect(sha(await readFile(join(mnt, n)))).toBe(sha(a));
      });
    },
  );

  it('extraction of the .img.xz refuses with OUTPUT_LIMIT before writing; no decompressed copy is left', async () => {
    const r = await refused((to) => extractPartitions(xz, { targets: [{ partition: 1, to }] }));
    expect(r.error).toBeInstanceOf(OutputLimitError);
    const e = r.error as OutputLimitError;
    expect(e.code).toBe('OUTPUT_LIMIT');
    expect(e.limit).toBe(used);
    expect(e.bytes).toBeGreaterThan(used);
    expect(r.parentAfter).toEqual(r.parentBefore);
    expect(r.sentinelSame).toBe(true);
  });

  it('so does tar extraction of the raw file system', async () => {
    const r = await refused((to) => extractFromFile(image, `${to}.tar`, 'tar'));
    expect((r.error as ImageError).code).toBe('OUTPUT_LIMIT');
    expect(r.parentAfter).toEqual(r.parentBefore);
    expect(r.sentinelSame).toBe(true);
  });
});

describe('ext4: one inode named by eight directory entries, its link count left at 1', () => {
  it('extraction counts each name (they are not hard links) and refuses with OUTPUT_LIMIT', async () => {
    const image = await baseImage('many-names.img');
    const ino = await inodeOf(image, '/big');
    // debugfs `ln` adds a directory entry without touching the link count
    await debugfsWrite(
      image,
      SMALL_FILES.map((n) => `ln /big /copy-${n}`),
    );
    const { exitCode, report } = await e2fsckReport(image);
    expect(exitCode).toBe(4);
    expect(report).toContain(`Inode ${ino} ref count is 1, should be ${SMALL_FILES.length + 1}`);
    const r = await refused((to) => extractFromFile(image, to));
    expect((r.error as ImageError).code).toBe('OUTPUT_LIMIT');
    expect(r.parentAfter).toEqual(r.parentBefore);
    expect(r.sentinelSame).toBe(true);
  });
});

describe('ext2 block map: one inode whose indirect block maps one data block 1024 times', () => {
  let image: string;
  let ino: number;
  let dataBlock: number;
  beforeAll(async () => {
    image = await baseImage('overlap-blockmap.img', 'ext2');
    ino = await inodeOf(image, '/a');
    dataBlock = Number(/(\d+)\s*$/.exec((await debugfsRead(image, 'bmap /big 0')).trim())?.[1]);
    const free = Number(/Free blocks found:\s*(\d+)/.exec(await debugfsRead(image, 'ffb 1 2000'))?.[1]);
    expect(dataBlock).toBeGreaterThan(0);
    expect(free).toBeGreaterThan(0);
    // The indirect block: 1024 little-endian pointers to the same data block, written in place.
    const indirect = Buffer.alloc(4096);
    for (let i = 0; i < 1024; i++) indirect.writeUInt32LE(dataBlock, i * 4);
    const fh = await open(image, 'r+');
    await fh.write(indirect, 0, 4096, free * 4096);
    await fh.close();
    await debugfsWrite(image, [
      `setb ${free}`,
      `sif /a block[IND] ${free}`,
      `sif /a size ${(12 + 1024) * 4096}`,
    ]);
  });

  it('is what the test says: e2fsck sees the block claimed many times by that inode', async () => {
    const { exitCode, report } = await e2fsckReport(image);
    expect(exitCode).toBe(4);
    expect(report).toContain(`Multiply-claimed block(s) in inode ${ino}`);
  });

  it.runIf(isRoot())('is what the test says: the kernel serves 1024 copies of one block', async () => {
    await withMount(image, async (mnt) => {
      const data = await readFile(join(mnt, 'a'));
      expect(data.length).toBe((12 + 1024) * 4096);
      const first = sha(data.subarray(12 * 4096, 13 * 4096));
      expect(sha(data.subarray(1035 * 4096, 1036 * 4096))).toBe(first);
    });
  });

  it('extraction refuses with OVERLAPPING_BLOCKS before writing anything', async () => {
    const r = await refused((to) => extractFromFile(image, to));
    expect(r.error).toBeInstanceOf(OverlappingBlocksError);
    expect((r.error as OverlappingBlocksError).ino).toBe(ino);
    expect((r.error as OverlappingBlocksError).block).toBe(dataBlock);
    expect(r.parentAfter).toEqual(r.parentBefore);
    expect(r.sentinelSame).toBe(true);
  });
});

describe('ext4: an extent past the end of the file system', () => {
  it('is CORRUPT_FILESYSTEM, with nothing written (e2fsck agrees the extent is invalid)', async () => {
    const image = await baseImage('outside.img');
    const { blocks } = await ext4Geometry(image);
    await debugfsWrite(
      image,
      extentRootCommands('/a', [{ logical: 0, physical: blocks + 10, length: 4 }], 4 * 4096),
    );
    const { exitCode, report } = await e2fsckReport(image);
    expect(exitCode).toBe(4);
    expect(report).toMatch(/invalid extent/);
    const r = await refused((to) => extractFromFile(image, to));
    expect((r.error as ImageError).code).toBe('CORRUPT_FILESYSTEM');
    expect(r.parentAfter).toEqual(r.parentBefore);
    expect(r.sentinelSame).toBe(true);
  });
});
