import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource, FileBlockSource } from '../src/block-source.js';
import { ImageError } from '../src/errors.js';
import { type FatFileSystem, openFat } from '../src/fat/fat-fs.js';
import type { FileSystem } from '../src/filesystem.js';
import {
  buildFat,
  makeTempDir,
  mcopyInto,
  mcopyOut,
  mdirBare,
  mtools,
  pseudoRandom,
  removeDir,
  sha256,
  writeTree,
} from './helpers/images.js';

/** A tree exercising every naming rule: 8.3 lowercase (case bits, no LFN), upper, LFN, unicode, deep, many. */
function testTree(): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer> = {
    'config.txt': 'arm_64bit=1\n',
    'cmdline.txt': 'console=tty1 root=/dev/nfs\n',
    ssh: '',
    'CAPS.TXT': 'upper',
    'MiXeD.Txt': 'mixed',
    'A Long File Name with spaces.txt': 'long',
    'ünïcødé-名前.txt': 'unicode',
    'name.with.dots.tar.gz': 'dots',
    'big.bin': pseudoRandom(300_000, 11),
    'exact.bin': pseudoRandom(4096, 12),
    'empty-dir/': '',
    'overlays/README': 'readme',
    'd1/d2/d3/d4/d5/d6/d7/d8/deep-file.txt': 'deep',
  };
  // A directory of 300 long names spans several clusters, with LFN runs crossing cluster boundaries.
  for (let i = 0; i < 300; i++) files[`overlays/overlay-number-${String(i).padStart(3, '0')}.dtbo`] = `o${i}`;
  return files;
}

async function walkAll(
  fs: FileSystem,
): Promise<Map<string, { type: string; size: number; sha?: string; mtimeNs: bigint; mode: number }>> {
  const out = new Map<string, { type: string; size: number; sha?: string; mtimeNs: bigint; mode: number }>();
  for await (const { path, node } of fs.walk()) {
    if (path === '/') continue;
    const s = node.stat;
    const entry: { type: string; size: number; sha?: string; mtimeNs: bigint; mode: number } = {
      type: s.type,
      size: s.size,
      mtimeNs: s.mtimeNs,
      mode: s.mode,
    };
    if (s.type === 'file') entry.sha = sha256(await fs.read(node, 0, s.size));
    out.set(path, entry);
  }
  return out;
}

async function hostTree(
  root: string,
  rel = '',
): Promise<Map<string, { type: string; size: number; sha?: string; mtimeMs: number }>> {
  const out = new Map<string, { type: string; size: number; sha?: string; mtimeMs: number }>();
  for (const name of await readdir(join(root, rel))) {
    const r = `${rel}/${name}`;
    const st = await stat(join(root, r));
    if (st.isDirectory()) {
      out.set(r, { type: 'directory', size: 0, mtimeMs: st.mtimeMs });
      for (const [k, v] of await hostTree(root, r)) out.set(k, v);
    } else {
      out.set(r, {
        type: 'file',
        size: st.size,
        sha: sha256(await readFile(join(root, r))),
        mtimeMs: st.mtimeMs,
      });
    }
  }
  return out;
}

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('fat');
  await writeTree(join(dir, 'tree'), testTree());
});
afterAll(async () => {
  await removeDir(dir);
});

describe.each([
  { bits: 12 as const, sizeMiB: 4, spc: 2 },
  { bits: 16 as const, sizeMiB: 20, spc: 1 },
  { bits: 32 as const, sizeMiB: 34, spc: 1 },
  { bits: 16 as const, sizeMiB: 24, spc: 1, sectorSize: 4096 },
])('FAT$bits against mtools (sector size $sectorSize)', ({ bits, sizeMiB, spc, sectorSize }) => {
  let img: string;
  let fs: FatFileSystem;
  let src: FileBlockSource;
  beforeAll(async () => {
    img = await buildFat(join(dir, `fat${bits}-${sectorSize ?? 512}.img`), {
      ...(sectorSize ? { sectorSize } : {}),
      fatBits: bits,
      sizeMiB,
      label: 'BRAMBLE',
      sectorsPerCluster: spc,
      fromDir: join(dir, 'tree'),
    });
    src = await FileBlockSource.open(img);
    fs = (await openFat(src)) as FatFileSystem;
  });
  afterAll(async () => {
    await fs?.close();
    await src?.close();
  });

  it('detects the FAT type, label and serial', () => {
    expect(fs.fatType).toBe(`fat${bits}`);
    expect(fs.label).toBe('BRAMBLE');
    expect(fs.uuid).toBe('1234-ABCD');
  });

  it('lists exactly the names mdir lists, with 8.3 case bits honoured', async () => {
    const ours = [...(await walkAll(fs)).entries()]
      .map(([p, e]) => (e.type === 'directory' ? `${p}/` : p))
      .sort();
    const oracle = (await mdirBare(img)).sort();
    expect(ours).toEqual(oracle);
    expect(ours).toContain('/config.txt');
    expect(ours).toContain('/cmdline.txt');
    expect(ours).toContain('/ssh');
    expect(ours).toContain('/CAPS.TXT');
    expect(ours).toContain('/ünïcødé-名前.txt');
  });

  it('config.txt is stored as CONFIG  TXT with case bits and no long name, and read back lowercase', async () => {
    const n = await fs.lookup('/config.txt');
    const raw = await readFile(img);
    const entry = raw.subarray(n.ino * 32, n.ino * 32 + 32);
    expect(entry.subarray(0, 11).toString('latin1')).toBe('CONFIG  TXT');
    expect(entry[0x0c]).toBe(0x18);
    expect(raw[n.ino * 32 - 32 + 0x0b]).not.toBe(0x0f);
    expect((await fs.readdir(fs.root)).map((e) => e.name)).toContain('config.txt');
  });

  it('reads the same sizes, contents and mtimes as mcopy -s -m', async () => {
    const out = join(dir, `out${bits}-${sectorSize ?? 512}`);
    await (await import('node:fs/promises')).mkdir(out);
    await mcopyOut(img, 0, out);
    const oracle = await hostTree(out);
    const ours = await walkAll(fs);
    expect(ours.size).toBe(oracle.size);
    for (const [path, o] of oracle) {
      const e = ours.get(path);
      expect(e, path).toBeDefined();
      expect(e?.type, path).toBe(o.type);
      if (o.type === 'file') {
        expect(e?.size, path).toBe(o.size);
        expect(e?.sha, path).toBe(o.sha);
        // mcopy -m sets the copy's mtime from the FAT entry (TZ=UTC in MTOOLS_ENV runs).
        expect(Number((e?.mtimeNs ?? 0n) / 1_000_000n), path).toBe(Math.round(o.mtimeMs));
      }
    }
  });

  it('maps attributes to modes and owners', async () => {
    await mtools('mattrib', img, 0, ['+r', '::/CAPS.TXT']);
    const fresh = await openFat(new BufferSource(await readFile(img)));
    expect((await fresh.lookup('/CAPS.TXT')).stat.mode).toBe(0o444);
    const cfg = await fresh.lookup('/config.txt');
    expect(cfg.stat).toMatchObject({ type: 'file', mode: 0o644, uid: 0, gid: 0 });
    expect((await fresh.lookup('/overlays')).stat).toMatchObject({ type: 'directory', mode: 0o755 });
    await mtools('mattrib', img, 0, ['-r', '::/CAPS.TXT']);
  });

  it('resolves paths case-insensitively and by node number, streams and slices files', async () => {
    const big = await fs.lookup('/BIG.BIN');
    expect(big.stat.size).toBe(300_000);
    const again = await fs.node(big.ino);
    expect(again.stat.size).toBe(300_000);
    const chunks: Buffer[] = [];
    for await (const c of fs.createReadStream(big)) chunks.push(c as Buffer);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(pseudoRandom(300_000, 11)));
    expect(await fs.read(big, 299_990, 100)).toEqual(pseudoRandom(300_000, 11).subarray(299_990));
    expect(await fs.dataRanges(big)).toEqual([{ offset: 0, length: 300_000 }]);
    expect(await fs.xattrs(big)).toEqual([]);
    await expect(fs.lookup('/nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(fs.lookup('/config.txt/x')).rejects.toMatchObject({ code: 'NOT_A_DIRECTORY' });
    await expect(fs.readlink(big)).rejects.toMatchObject({ code: 'NOT_A_SYMLINK' });
  });
});

describe('FAT32 details', () => {
  it('reads a fragmented file across non-contiguous cluster runs', async () => {
    const img = await buildFat(join(dir, 'frag.img'), { fatBits: 32, sizeMiB: 34, sectorsPerCluster: 1 });
    const parts = await writeTree(join(dir, 'frag'), {
      'a.bin': pseudoRandom(5000, 1),
      'b.bin': pseudoRandom(5000, 2),
      'c.bin': pseudoRandom(20_000, 3),
    });
    await mtools('mcopy', img, 0, [join(parts, 'a.bin'), join(parts, 'b.bin'), '::/']);
    await mtools('mdel', img, 0, ['::/a.bin']);
    await mtools('mcopy', img, 0, [join(parts, 'c.bin'), '::/']);
    const fs = await openFat(new BufferSource(await readFile(img)));
    const c = await fs.lookup('/c.bin');
    expect(sha256(await fs.read(c, 0, c.stat.size))).toBe(sha256(pseudoRandom(20_000, 3)));
    expect((await fs.readdir(await fs.lookup('/'))).map((e) => e.name).sort()).toEqual(['b.bin', 'c.bin']);
  });

  it('reads creation times with 10 ms resolution and treats FAT local time as UTC', async () => {
    const img = await buildFat(join(dir, 'times.img'), { fatBits: 16, sizeMiB: 20 });
    const raw = await readFile(img);
    const fs = (await openFat(new BufferSource(raw))) as FatFileSystem;
    await fs.close();
    // Hand-write a root entry: "TIME    TXT", created 2024-02-29 13:37:58.990, modified 2001-09-09 01:46:40 (2 s units).
    const e = Buffer.alloc(32);
    e.write('TIME    TXT', 0, 'latin1');
    e[0x0b] = 0x20;
    e[0x0d] = 199; // +1.99 s
    e.writeUInt16LE((13 << 11) | (37 << 5) | (57 >> 1), 0x0e); // 13:37:56 (+1.99 s fine)
    e.writeUInt16LE(((2024 - 1980) << 9) | (2 << 5) | 29, 0x10);
    e.writeUInt16LE(((2001 - 1980) << 9) | (9 << 5) | 9, 0x12);
    e.writeUInt16LE((1 << 11) | (46 << 5) | (40 >> 1), 0x16);
    e.writeUInt16LE(((2001 - 1980) << 9) | (9 << 5) | 9, 0x18);
    e.copy(raw, fs.bpb.rootDirOffset);
    const fs2 = await openFat(new BufferSource(raw));
    const n = await fs2.lookup('/TIME.TXT');
    expect(n.stat.mtimeNs).toBe(BigInt(Date.UTC(2001, 8, 9, 1, 46, 40)) * 1_000_000n);
    expect(n.stat.birthtimeNs).toBe(BigInt(Date.UTC(2024, 1, 29, 13, 37, 56) + 1990) * 1_000_000n);
    expect(n.stat.atimeNs).toBe(BigInt(Date.UTC(2001, 8, 9)) * 1_000_000n);
  });
});

describe('corrupt FAT volumes give typed errors quickly', () => {
  let base: Buffer;
  let bpb: FatFileSystem['bpb'];
  let bigIno: number;
  beforeAll(async () => {
    const img = await buildFat(join(dir, 'corrupt.img'), { fatBits: 32, sizeMiB: 34, sectorsPerCluster: 1 });
    const t = await writeTree(join(dir, 'corrupt-tree'), {
      'big.bin': pseudoRandom(10_000, 9),
      'sub/file.txt': 'x',
    });
    await mcopyInto(img, 0, t);
    base = await readFile(img);
    const fs = (await openFat(new BufferSource(base))) as FatFileSystem;
    bpb = fs.bpb;
    bigIno = (await fs.lookup('/big.bin')).ino;
  });
  const copy = () => Buffer.from(base);
  const firstCluster = (b: Buffer, ino: number) =>
    (b.readUInt16LE(ino * 32 + 0x14) << 16) | b.readUInt16LE(ino * 32 + 0x1a);

  it('zeroed boot sector', async () => {
    const b = copy();
    b.fill(0, 0, 512);
    await expect(openFat(new BufferSource(b))).rejects.toMatchObject({
      name: 'ImageError',
      code: 'UNKNOWN_FILESYSTEM',
    });
  });

  it('truncated volume', async () => {
    await expect(openFat(new BufferSource(base.subarray(0, 300)))).rejects.toMatchObject({
      code: 'TRUNCATED',
    });
    await expect(openFat(new BufferSource(base.subarray(0, bpb.fatOffset + 100)))).rejects.toMatchObject({
      code: 'TRUNCATED',
    });
  });

  it('FAT chain loop', async () => {
    const b = copy();
    const c = firstCluster(b, bigIno);
    // Make the file's third cluster point back to its first.
    b.writeUInt32LE(c, bpb.fatOffset + (c + 2) * 4);
    const fs = await openFat(new BufferSource(b));
    const n = await fs.lookup('/big.bin');
    const err = await fs.read(n, 0, n.stat.size).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect(err).toMatchObject({ code: 'CORRUPT_FILESYSTEM' });
    expect((err as Error).message).toMatch(/loops/);
  });

  it('directory loop (subdirectory pointing at its parent)', async () => {
    const b = copy();
    const fs0 = await openFat(new BufferSource(b));
    const sub = await fs0.lookup('/sub');
    const file = await fs0.lookup('/sub/file.txt');
    // Turn sub/file.txt into a directory whose cluster is sub's own cluster.
    const c = firstCluster(b, sub.ino);
    b[file.ino * 32 + 0x0b] = 0x10;
    b.writeUInt16LE(c >> 16, file.ino * 32 + 0x14);
    b.writeUInt16LE(c & 0xffff, file.ino * 32 + 0x1a);
    const fs = await openFat(new BufferSource(b));
    const walk = async () => {
      for await (const _ of fs.walk()) void _;
    };
    await expect(walk()).rejects.toMatchObject({ code: 'CORRUPT_FILESYSTEM' });
  });

  it('cluster out of range and huge sizes', async () => {
    const b = copy();
    b.writeUInt16LE(0xffff, bigIno * 32 + 0x14);
    const fs = await openFat(new BufferSource(b));
    const n = await fs.lookup('/big.bin');
    await expect(fs.read(n, 0, 10)).rejects.toMatchObject({ code: 'CORRUPT_FILESYSTEM' });
    const b2 = copy();
    b2.writeUInt32LE(0xffffffff, bigIno * 32 + 0x1c);
    const fs2 = await openFat(new BufferSource(b2));
    const n2 = await fs2.lookup('/big.bin');
    await expect(fs2.read(n2, 0, 10)).rejects.toMatchObject({ code: 'CORRUPT_FILESYSTEM' });
    const streamErr = await (async () => {
      for await (const _ of fs2.createReadStream(n2)) void _;
    })().catch((e: unknown) => e);
    expect(streamErr).toMatchObject({ code: 'CORRUPT_FILESYSTEM' });
  });

  it('chain ending before the file size', async () => {
    const b = copy();
    const c = firstCluster(b, bigIno);
    b.writeUInt32LE(0x0fffffff, bpb.fatOffset + c * 4);
    const fs = await openFat(new BufferSource(b));
    await expect(fs.read(await fs.lookup('/big.bin'), 0, 10_000)).rejects.toMatchObject({
      code: 'CORRUPT_FILESYSTEM',
    });
  });

  it('a long name whose checksum does not match its 8.3 entry falls back to the short name', async () => {
    const img = await buildFat(join(dir, 'lfn.img'), { fatBits: 16, sizeMiB: 20 });
    const t = await writeTree(join(dir, 'lfn-tree'), { 'A Long Name.txt': 'x' });
    await mcopyInto(img, 0, t);
    const b = await readFile(img);
    const fs = (await openFat(new BufferSource(b))) as FatFileSystem;
    const n = await fs.lookup('/A Long Name.txt');
    expect((await fs.readdir(await fs.lookup('/'))).map((e) => e.name)).toEqual(['A Long Name.txt']);
    // The LFN entries sit right before the short entry; corrupt the checksum byte of the one just before.
    const lfnOff = n.ino * 32 - 32;
    expect(b[lfnOff + 0x0b]).toBe(0x0f);
    b[lfnOff + 13] = ((b[lfnOff + 13] as number) + 1) & 0xff;
    const names = (await (await openFat(new BufferSource(b))).readdir(await fs.lookup('/'))).map(
      (e) => e.name,
    );
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^ALONGN~\d\.TXT$/);
  });

  it('uses the active FAT when FAT32 mirroring is off', async () => {
    const b = copy();
    const fatBytes = bpb.fatSectors * bpb.bytesPerSector;
    b.fill(0, bpb.fatOffset, bpb.fatOffset + fatBytes); // FAT 0 wiped: reading through it must fail
    await expect(
      (async () => {
        const fs = await openFat(new BufferSource(b));
        await fs.read(await fs.lookup('/big.bin'), 0, 10_000);
      })(),
    ).rejects.toMatchObject({ name: 'ImageError' });
    b.writeUInt16LE(0x81, 0x28); // mirroring off, FAT 1 active
    const fs = await openFat(new BufferSource(b));
    const n = await fs.lookup('/big.bin');
    expect(sha256(await fs.read(n, 0, n.stat.size))).toBe(sha256(pseudoRandom(10_000, 9)));
  });

  it('root directory cluster out of range', async () => {
    const b = copy();
    b.writeUInt32LE(0x0ffffff0, 0x2c);
    await expect(openFat(new BufferSource(b))).rejects.toMatchObject({ code: 'CORRUPT_FILESYSTEM' });
  });
});
