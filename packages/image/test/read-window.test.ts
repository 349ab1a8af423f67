import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource, FileBlockSource, SliceSource } from '../src/block-source.js';
import { ImageError } from '../src/errors.js';
import { ReadWindow } from '../src/ext4/read-window.js';

describe('ReadWindow (small-read read-ahead)', () => {
  let dir: string;
  let bytes: Buffer;
  let file: FileBlockSource;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bramble-window-'));
    bytes = randomBytes(3 * 65536 + 1234); // does not end on a window boundary
    await writeFile(join(dir, 'img'), bytes);
    file = await FileBlockSource.open(join(dir, 'img'));
  });
  afterAll(async () => {
    await file?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('returns exactly the bytes a direct read does, under concurrent reads that evict and reuse windows', async () => {
    for (const source of [file, new SliceSource(file, 1000, bytes.length - 1000), new BufferSource(bytes)]) {
      const expected = source === file || source instanceof BufferSource ? bytes : bytes.subarray(1000);
      const window = new ReadWindow(source, 4096, 2); // tiny: constant eviction and buffer reuse
      let seed = 12345;
      const next = () => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed;
      };
      const reads = Array.from({ length: 2000 }, () => {
        const position = next() % expected.length;
        const length = Math.min(next() % 6000, expected.length - position);
        return { position, length };
      });
      const got = await Promise.all(reads.map((r) => window.read(r.position, r.length)));
      got.forEach((buf, i) => {
        const { position, length } = reads[i] as { position: number; length: number };
        expect(buf.equals(expected.subarray(position, position + length))).toBe(true);
      });
      // copies, not views: changing one result changes neither the source nor a later read
      const first = await window.read(0, 16);
      first.fill(0);
      expect((await window.read(0, 16)).equals(expected.subarray(0, 16))).toBe(true);
    }
  });

  it('a read past the end is the source’s TRUNCATED error', async () => {
    const window = new ReadWindow(file, 4096, 4);
    const err = await window.read(bytes.length - 10, 20).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).code).toBe('TRUNCATED');
  });
});
