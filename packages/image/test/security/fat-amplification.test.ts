/**
 * Hostile FAT volumes (issue 12): directory entries cross-linked to one cluster chain (every file
 * reads the same clusters), and a chain that loops. Built with mkfs.vfat + mcopy, then the root
 * directory and the FAT are edited in place; fsck.fat and mtools prove each volume is what the
 * test says. Extraction refuses with the exact typed error, writes nothing, and a sentinel
 * directory's sha256 tree is unchanged.
 */
import { open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBlockSource } from '../../src/block-source.js';
import { type ImageError, OutputLimitError } from '../../src/errors.js';
import { openFat } from '../../src/fat/fat-fs.js';
import { extract } from '../../src/index.js';
import { buildFat, MTOOLS_ENV, mdirBare, mtools, pseudoRandom, writeTree } from '../helpers/images.js';
import { makeSentinel, scratch, treeDigest } from './hostile.js';

const BIG = 1024 * 1024;
const LINKED = ['F1', 'F2', 'F3', 'F4', 'F5', 'F6', 'F7', 'F8'];

let work: string;
let tree: string;
beforeAll(async () => {
  work = await scratch('fat');
  tree = await writeTree(join(work, 'tree'), {
    BIG: pseudoRandom(BIG, 5),
    ...Object.fromEntries(LINKED.map((n) => [n, `${n}\n`])),
  });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** FAT16 geometry from the boot sector (FAT spec 1.03 section 3). */
function geometry(bootSector: Buffer) {
  const bytesPerSector = bootSector.readUInt16LE(0x0b);
  const reserved = bootSector.readUInt16LE(0x0e);
  const fats = bootSector.readUInt8(0x10);
  const rootEntries = bootSector.readUInt16LE(0x11);
  const fatSectors = bootSector.readUInt16LE(0x16);
  return {
    fatOffsets: Array.from({ length: fats }, (_, k) => (reserved + k * fatSectors) * bytesPerSector),
    rootOffset: (reserved + fats * fatSectors) * bytesPerSector,
    rootEntries,
  };
}

/** Patch a FAT16 volume in place: `edit` gets the whole image, the root directory's short entries by name, and the FAT offsets. */
async function patchFat16(
  image: string,
  edit: (b: Buffer, entries: Map<string, number>, fatOffsets: number[]) => void,
): Promise<void> {
  const fh = await open(image, 'r+');
  try {
    const { size } = await fh.stat();
    const b = Buffer.alloc(size);
    await fh.read(b, 0, size, 0);
    const g = geometry(b);
    const entries = new Map<string, number>();
    for (let i = 0; i < g.rootEntries; i++) {
      const at = g.rootOffset + i * 32;
      if (b[at] === 0) break;
      entries.set(
        b
          .subarray(at, at + 11)
          .toString('latin1')
          .trim(),
        at,
      );
    }
    edit(b, entries, g.fatOffsets);
    await fh.write(b, 0, size, 0);
  } finally {
    await fh.close();
  }
}

async function volume(name: string): Promise<string> {
  return buildFat(join(work, name), { fatBits: 16, sizeMiB: 8, sectorsPerCluster: 2, fromDir: tree });
}

async function fsckFat(image: string): Promise<string> {
  const r = await execa(requireTool('fsck.fat'), ['-n', image], { reject: false, all: true });
  return String(r.all);
}

async function refused(image: string): Promise<{ error: unknown; same: boolean; listed: boolean }> {
  const parent = join(work, `out-${Math.random().toString(36).slice(2)}`);
  const digest = await makeSentinel(join(parent, 'sentinel'));
  const before = (await readdir(parent)).sort();
  const src = await FileBlockSource.open(image);
  const started = Date.now();
  const error = await openFat(src)
    .then((fs) => extract(fs, { to: join(parent, 'boot') }))
    .then(
      () => undefined,
      (e: unknown) => e,
    )
    .finally(() => src.close());
  expect(Date.now() - started).toBeLessThan(30_000);
  const after = (await readdir(parent)).sort();
  return {
    error,
    same: JSON.stringify(await treeDigest(join(parent, 'sentinel'))) === JSON.stringify(digest),
    listed: JSON.stringify(after) === JSON.stringify(before),
  };
}

describe('FAT: eight directory entries cross-linked to one 1 MiB cluster chain', () => {
  let image: string;
  beforeAll(async () => {
    image = await volume('crosslinked.img');
    await patchFat16(image, (b, entries) => {
      const big = entries.get('BIG') as number;
      for (const n of LINKED) {
        const at = entries.get(n) as number;
        b.writeUInt16LE(b.readUInt16LE(big + 0x1a), at + 0x1a); // DIR_FstClusLO
        b.writeUInt32LE(b.readUInt32LE(big + 0x1c), at + 0x1c); // DIR_FileSize
      }
    });
  });

  it('is what the test says: fsck.fat sees shared clusters, mtools reads BIG through every name', async () => {
    const report = await fsckFat(image);
    for (const n of LINKED) expect(report).toContain(`/${n}\n  share clusters`);
    expect(await mdirBare(image)).toEqual(expect.arrayContaining(['/BIG', ...LINKED.map((n) => `/${n}`)]));
    const out = join(work, 'mcopy-f8');
    await execa(requireTool('mcopy'), ['-n', '-i', image, '::/F8', out], { env: MTOOLS_ENV });
    const big = join(work, 'mcopy-big');
    await execa(requireTool('mcopy'), ['-n', '-i', image, '::/BIG', big], { env: MTOOLS_ENV });
    expect((await readFile(out)).equals(await readFile(big))).toBe(true);
  });

  it('extraction refuses with OUTPUT_LIMIT before writing anything', async () => {
    const r = await refused(image);
    expect(r.error).toBeInstanceOf(OutputLimitError);
    const e = r.error as OutputLimitError;
    expect(e.code).toBe('OUTPUT_LIMIT');
    expect(e.bytes).toBeGreaterThan(e.limit);
    expect(e.limit).toBeLessThan(2 * BIG);
    expect(r.listed).toBe(true);
    expect(r.same).toBe(true);
  });
});

describe('FAT: a cluster chain that loops back on itself', () => {
  it('is CORRUPT_FILESYSTEM in bounded time, with nothing written (fsck.fat sees the cycle)', async () => {
    const image = await volume('cycle.img');
    await patchFat16(image, (b, entries, fats) => {
      const first = b.readUInt16LE((entries.get('BIG') as number) + 0x1a);
      // the 100th cluster of BIG links back to its second: a cycle inside the file's size
      for (const fat of fats) b.writeUInt16LE(first + 1, fat + 2 * (first + 99));
    });
    expect(await fsckFat(image)).toContain('Circular cluster chain');
    // mtools still lists the file (the loop is in its data)
    expect(await mtools('mdir', image, 0, ['-b', '::/'])).toContain('BIG');
    const r = await refused(image);
    expect((r.error as ImageError).code).toBe('CORRUPT_FILESYSTEM');
    expect((r.error as Error).message).toMatch(/loops/);
    expect(r.listed).toBe(true);
    expect(r.same).toBe(true);
  });
});
