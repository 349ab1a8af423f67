import { copyFile, mkdir, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileBlockSource } from '../src/block-source.js';
import { openImage } from '../src/disk-image.js';
import type { FileSystem } from '../src/filesystem.js';
import { detectFormat } from '../src/source/detect.js';
import { SparseWriter } from '../src/source/sparse-writer.js';
import { xzUncompressedSize } from '../src/source/xz-index.js';
import {
  buildDisk,
  buildFat,
  compress,
  makeTempDir,
  pseudoRandom,
  removeDir,
  sha256,
  writeTree,
} from './helpers/images.js';

let dir: string;
let raw: string;
const packedCache = new Map<string, Promise<string>>();
/** Compress the raw disk once per format (xz is the slow one) and hand out copies. */
async function packed(format: 'xz' | 'gz' | 'zip', name: string): Promise<string> {
  let p = packedCache.get(format);
  if (!p) {
    p = compress(raw, format, join(dir, `packed.${format}`));
    packedCache.set(format, p);
  }
  const dest = join(dir, name);
  await copyFile(await p, dest);
  return dest;
}
beforeAll(async () => {
  dir = await makeTempDir('source');
  const tree = await writeTree(join(dir, 'tree'), {
    'config.txt': 'arm_64bit=1\n',
    'kernel8.img': pseudoRandom(3_000_000, 21),
    'overlays/a.dtbo': 'a',
  });
  const fat = await buildFat(join(dir, 'boot.fat'), {
    fatBits: 32,
    sizeMiB: 34,
    label: 'bootfs',
    sectorsPerCluster: 1,
    fromDir: tree,
  });
  raw = (
    await buildDisk(join(dir, 'disk.img'), {
      table: 'mbr',
      diskId: 'cafef00d',
      partitions: [{ image: fat, type: 'c' }],
    })
  ).path;
});
afterAll(async () => {
  await removeDir(dir);
});

async function digest(fs: FileSystem): Promise<string[]> {
  const out: string[] = [];
  for await (const { path, node } of fs.walk()) {
    out.push(
      `${path} ${node.stat.type} ${node.stat.size} ${node.stat.type === 'file' ? sha256(await fs.read(node, 0, node.stat.size)) : ''}`,
    );
  }
  return out;
}

describe('xz index', () => {
  it('sums the uncompressed sizes of every block of every concatenated stream', async () => {
    const one = await packed('xz', 'index-one.xz');
    const two = join(dir, 'index-two.xz');
    const b = await readFile(one);
    await writeFile(two, Buffer.concat([b, Buffer.alloc(8), b]));
    const size = (await stat(raw)).size;
    expect(await xzUncompressedSize(one)).toBe(size);
    expect(await xzUncompressedSize(two)).toBe(2 * size);
    expect(await xzUncompressedSize(raw)).toBeUndefined();
  });
});

describe('format detection', () => {
  it('detects from magic bytes, not names', () => {
    expect(detectFormat(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 4]))).toBe('xz');
    expect(detectFormat(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gz');
    expect(detectFormat(Buffer.from('PK\x03\x04rest', 'latin1'))).toBe('zip');
    expect(detectFormat(Buffer.alloc(512))).toBe('raw');
    expect(detectFormat(Buffer.alloc(0))).toBe('raw');
  });
});

describe('sparse writer', () => {
  it('leaves all-zero blocks as holes and keeps the exact length', async () => {
    const p = join(dir, 'sparse.bin');
    const w = await SparseWriter.create(p);
    const data = Buffer.alloc(8 * 1024 * 1024 + 123);
    data.write('head', 0);
    data.write('tail', data.length - 4);
    // Feed it in odd-sized chunks so block boundaries never line up with chunk boundaries.
    for (let off = 0; off < data.length; off += 77_777) await w.write(data.subarray(off, off + 77_777));
    expect(await w.finish()).toBe(data.length);
    const st = await stat(p);
    expect(st.size).toBe(data.length);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024);
    expect(sha256(await readFile(p))).toBe(sha256(data));
  });
});

describe('compressed images read exactly like the raw one', () => {
  let expected: string[];
  beforeAll(async () => {
    const img = await openImage(raw);
    expected = await digest(await img.openFileSystem('bootfs'));
    expect(img.format).toBe('raw');
    await img.close();
  });

  it.each([
    { format: 'xz' as const, xzDecoder: 'program' as const },
    { format: 'xz' as const, xzDecoder: 'wasm' as const },
    { format: 'gz' as const },
    { format: 'zip' as const },
  ])('$format $xzDecoder', async ({ format, xzDecoder }) => {
    const file = await packed(format, `packed-${format}-${xzDecoder ?? ''}.bin`);
    const tmpDir = join(dir, `tmp-${format}-${xzDecoder ?? ''}`);
    await mkdir(tmpDir);
    const progress: number[] = [];
    const totals = new Set<number | undefined>();
    const img = await openImage(file, {
      tmpDir,
      ...(xzDecoder ? { xzDecoder } : {}),
      onProgress: (p) => {
        progress.push(p.bytes);
        totals.add(p.total);
      },
    });
    try {
      expect(img.format).toBe(format);
      expect(img.diskId).toBe('cafef00d');
      expect(img.source.size).toBe((await stat(raw)).size);
      expect(await digest(await img.openFileSystem(1))).toEqual(expected);
      expect(progress.length).toBeGreaterThan(1);
      expect(progress.at(-1)).toBe(img.source.size);
      // xz (from its index) and zip (central directory) know the total from the start; gzip does not.
      if (format !== 'gz') expect([...totals]).toEqual([img.source.size]);
      // The temporary copy is sparse: far less allocated than its length.
      const tmp = await stat((img.source as FileBlockSource).path);
      expect(tmp.blocks * 512).toBeLessThan(tmp.size / 2);
      expect(await readdir(tmpDir)).toHaveLength(1);
    } finally {
      await img.close();
    }
    expect(await readdir(tmpDir)).toEqual([]);
  });
});

describe('failures are typed and leave no temporary files', () => {
  let tmpDir: string;
  beforeAll(async () => {
    tmpDir = join(dir, 'tmp-fail');
    await mkdir(tmpDir);
  });

  it('aborts decompression through an AbortSignal', async () => {
    const file = await packed('gz', 'abort.gz');
    const ac = new AbortController();
    const err = await openImage(file, { tmpDir, signal: ac.signal, onProgress: () => ac.abort() }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ name: 'ImageError', code: 'ABORTED' });
    expect(await readdir(tmpDir)).toEqual([]);
    const pre = new AbortController();
    pre.abort();
    await expect(openImage(file, { tmpDir, signal: pre.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it.each(['program', 'wasm'] as const)(
    'aborts .xz decompression (%s decoder) and removes the partial file',
    async (xzDecoder) => {
      const file = await packed('xz', `abort-${xzDecoder}.xz`);
      const ac = new AbortController();
      const err = await openImage(file, {
        tmpDir,
        xzDecoder,
        signal: ac.signal,
        onProgress: () => ac.abort(),
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'ImageError', code: 'ABORTED' });
      expect(await readdir(tmpDir)).toEqual([]);
    },
  );

  it.each(['program', 'wasm'] as const)('truncated .xz (%s decoder)', async (xzDecoder) => {
    const file = await packed('xz', `trunc-${xzDecoder}.xz`);
    await truncate(file, Math.floor((await stat(file)).size / 2));
    await expect(openImage(file, { tmpDir, xzDecoder })).rejects.toMatchObject({ code: 'DECOMPRESS_FAILED' });
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('truncated and garbled .gz', async () => {
    const file = await packed('gz', 'trunc.gz');
    await truncate(file, Math.floor((await stat(file)).size / 2));
    await expect(openImage(file, { tmpDir })).rejects.toMatchObject({ code: 'DECOMPRESS_FAILED' });
    const garbled = join(dir, 'garbled.gz');
    await writeFile(
      garbled,
      Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), pseudoRandom(10_000, 5)]),
    );
    await expect(openImage(garbled, { tmpDir })).rejects.toMatchObject({ code: 'DECOMPRESS_FAILED' });
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('zip with several images, and a broken zip', async () => {
    const two = join(dir, 'two');
    await mkdir(two);
    await copyFile(raw, join(two, 'a.img'));
    await copyFile(raw, join(two, 'b.img'));
    const zipPath = join(dir, 'two.zip');
    await execa(requireTool('zip'), ['-q', '-j', zipPath, join(two, 'a.img'), join(two, 'b.img')]);
    await expect(openImage(zipPath, { tmpDir })).rejects.toMatchObject({ code: 'UNKNOWN_FORMAT' });
    const broken = join(dir, 'broken.zip');
    await writeFile(broken, Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), pseudoRandom(5000, 8)]));
    await expect(openImage(broken, { tmpDir })).rejects.toMatchObject({ code: 'DECOMPRESS_FAILED' });
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('invalid options', async () => {
    await expect(openImage(raw, { xzDecoder: 'fastest' as never })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
    await expect(openImage(raw, { tmpDir: '' })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('missing, empty and non-image files', async () => {
    await expect(openImage(join(dir, 'does-not-exist.img'))).rejects.toMatchObject({ code: 'IO' });
    const empty = join(dir, 'empty.img');
    await writeFile(empty, '');
    await expect(openImage(empty)).rejects.toMatchObject({ code: 'TRUNCATED' });
    await expect(openImage(dir)).rejects.toMatchObject({ code: 'UNKNOWN_FORMAT' });
    const junk = join(dir, 'junk.img');
    await writeFile(junk, pseudoRandom(4096, 2));
    const img = await openImage(junk);
    try {
      expect(img.table).toBe('none');
      await expect(img.openFileSystem(1)).rejects.toMatchObject({ code: 'UNKNOWN_FILESYSTEM' });
    } finally {
      await img.close();
    }
  });
});
