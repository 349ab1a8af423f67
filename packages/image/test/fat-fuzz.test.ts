import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../src/block-source.js';
import { ImageError } from '../src/errors.js';
import { type FatFileSystem, openFat } from '../src/fat/fat-fs.js';
import { buildFat, makeTempDir, pseudoRandom, removeDir, writeTree } from './helpers/images.js';

/**
 * Random corruption of the metadata areas (boot sector, FAT, directories) of a real mtools-built
 * volume: every open + walk + full read either succeeds or throws ImageError — never anything else,
 * never a hang (each case is bounded by the file system's own limits).
 */
let dir: string;
let base: Buffer;
let regions: [number, number][];
beforeAll(async () => {
  dir = await makeTempDir('fatfuzz');
  const tree = await writeTree(join(dir, 'tree'), {
    'config.txt': 'x',
    'A long name.txt': pseudoRandom(3000, 1),
    'sub/deeper/file.bin': pseudoRandom(9000, 2),
    'sub/ssh': '',
  });
  const img = await buildFat(join(dir, 'f.img'), { fatBits: 12, sizeMiB: 2, fromDir: tree });
  base = await readFile(img);
  const fs = (await openFat(new BufferSource(base))) as FatFileSystem;
  // Where the metadata that matters lives: the BPB, the used start of the FAT, the root directory
  // entries and the first data clusters (the subdirectories mcopy created).
  const { bpb } = fs;
  regions = [
    [0, 62],
    [bpb.fatOffset, 32],
    [bpb.rootDirOffset, 256],
    [bpb.dataOffset, 4 * bpb.clusterSize],
  ];
});
afterAll(async () => {
  await removeDir(dir);
});

async function exercise(b: Buffer): Promise<void> {
  const fs = await openFat(new BufferSource(b));
  let entries = 0;
  for await (const { node } of fs.walk()) {
    if (++entries > 10_000) throw new Error('walk did not terminate');
    if (node.stat.type === 'file') await fs.read(node, 0, node.stat.size);
  }
}

describe('FAT fuzz', () => {
  it('survives 300 random metadata corruptions with typed errors only', async () => {
    const rand = pseudoRandom(300 * 16, 77);
    let typed = 0;
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(base);
      // 1-4 random bytes of the metadata set to random values.
      const n = 1 + ((rand[i * 16] as number) % 4);
      for (let k = 0; k < n; k++) {
        const [start, len] = regions[(rand[i * 16 + 1 + k] as number) % regions.length] as [number, number];
        const pos = start + ((rand.readUInt16LE(i * 16 + 5 + k * 2) as number) % len);
        b[pos] = rand[i * 16 + 13 + (k % 3)] as number;
      }
      try {
        await exercise(b);
      } catch (e) {
        if (!(e instanceof ImageError)) throw new Error(`case ${i}: ${String(e)}`);
        typed++;
      }
    }
    // Some corruptions must be caught (else the mutations missed everything that matters).
    expect(typed).toBeGreaterThan(20);
  });
});
