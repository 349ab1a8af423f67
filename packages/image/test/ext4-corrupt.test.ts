import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../src/block-source.js';
import { ImageError } from '../src/errors.js';
import { crc32c } from '../src/ext4/crc32c.js';
import { checkedRelativePath } from '../src/extract/safe-path.js';
import { extract, openExt4 } from '../src/index.js';
import { scratchDir } from './ext4-tree.js';

const BS = 4096;
const SB = 1024;

async function debugfs(img: string, cmd: string): Promise<string> {
  const r = await execa(requireTool('debugfs'), ['-R', cmd, img]);
  return r.stdout;
}

/** Byte offset of an inode in the image (debugfs imap). */
async function inodeOffset(img: string, path: string): Promise<number> {
  const out = await debugfs(img, `imap ${path}`);
  const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(out);
  if (!m) throw new Error(`imap failed: ${out}`);
  return Number(m[1]) * BS + Number.parseInt(m[2] as string, 16);
}

async function firstBlock(img: string, path: string): Promise<number> {
  return Number((await debugfs(img, `blocks ${path}`)).trim().split(/\s+/)[0]);
}

function resealSuperblock(b: Buffer): void {
  b.writeUInt32LE(crc32c(0xffffffff, b.subarray(SB, SB + 0x3fc)), SB + 0x3fc);
}

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof ImageError)) throw new Error(`expected an ImageError, got ${String(e)}`);
  return e.code;
}

async function walkAll(b: Buffer, opts: { verifyChecksums?: boolean } = {}): Promise<number> {
  const fs = await openExt4(new BufferSource(b), opts);
  let n = 0;
  for await (const { node } of fs.walk('/')) {
    n++;
    await fs.xattrs(node);
    if (node.stat.type === 'file') await fs.dataRanges(node);
    if (node.stat.type === 'symlink') await fs.readlink(node);
  }
  return n;
}

describe('corrupt ext4 images give typed errors quickly', () => {
  let work: string;
  let csumImg: Buffer;
  let plainImg: Buffer;
  let plainPath: string;
  let csumPath: string;
  beforeAll(async () => {
    const mkfs = requireTool('mkfs.ext4');
    requireTool('debugfs');
    work = await mkdtemp(join(scratchDir(), 'bramble-corrupt-'));
    const tree = join(work, 'tree');
    await mkdir(join(tree, 'sub'), { recursive: true });
    await writeFile(join(tree, 'hello'), 'hello\n');
    await writeFile(join(tree, 'sub', 'data'), Buffer.alloc(300_000, 7));
    await execa('setfattr', ['-n', 'user.big', '-v', 'x'.repeat(300), join(tree, 'hello')]);
    csumPath = join(work, 'csum.img');
    plainPath = join(work, 'plain.img');
    await execa(mkfs, ['-q', '-F', '-b', '4096', '-d', tree, csumPath, '16M']);
    await execa(mkfs, ['-q', '-F', '-b', '4096', '-O', '^metadata_csum', '-d', tree, plainPath, '16M']);
    csumImg = await readFile(csumPath);
    plainImg = await readFile(plainPath);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('reads the intact images', async () => {
    expect(await walkAll(csumImg)).toBe(5); // /, lost+found, hello, sub, sub/data
    expect(await walkAll(plainImg)).toBe(5);
  });

  it('zeroed superblock → UNKNOWN_FILESYSTEM', async () => {
    const b = Buffer.from(csumImg);
    b.fill(0, SB, SB + 1024);
    expect(await code(openExt4(new BufferSource(b)))).toBe('UNKNOWN_FILESYSTEM');
  });

  it('truncated image → TRUNCATED', async () => {
    expect(await code(openExt4(new BufferSource(csumImg.subarray(0, csumImg.length / 2))))).toBe('TRUNCATED');
  });

  it('superblock checksum mismatch → CHECKSUM_MISMATCH (and readable with verifyChecksums: false)', async () => {
    const b = Buffer.from(csumImg);
    b[SB + 0x78] = 0x41; // volume name
    expect(await code(openExt4(new BufferSource(b)))).toBe('CHECKSUM_MISMATCH');
    expect(await walkAll(b, { verifyChecksums: false })).toBe(5);
  });

  it('unknown incompat feature → UNSUPPORTED_FEATURE naming it', async () => {
    const b = Buffer.from(csumImg);
    b.writeUInt32LE(b.readUInt32LE(SB + 0x60) | 0x10000, SB + 0x60); // encrypt
    resealSuperblock(b);
    const err = await openExt4(new BufferSource(b)).catch((e: unknown) => e);
    expect((err as ImageError).code).toBe('UNSUPPORTED_FEATURE');
    expect((err as Error).message).toMatch(/encrypt/);
  });

  it('journal needs recovery → NEEDS_RECOVERY unless allowDirty', async () => {
    const b = Buffer.from(csumImg);
    b.writeUInt32LE(b.readUInt32LE(SB + 0x60) | 0x4, SB + 0x60);
    resealSuperblock(b);
    expect(await code(openExt4(new BufferSource(b)))).toBe('NEEDS_RECOVERY');
    expect(await walkAll(b.subarray(0), { verifyChecksums: true }).catch(() => -1)).toBe(-1);
    const fs = await openExt4(new BufferSource(b), { allowDirty: true });
    expect((await fs.readdir(await fs.lookup('/'))).map((e) => e.name).sort()).toEqual([
      'hello',
      'lost+found',
      'sub',
    ]);
  });

  it('inode checksum mismatch → CHECKSUM_MISMATCH', async () => {
    const b = Buffer.from(csumImg);
    const off = await inodeOffset(csumPath, '/hello');
    b[off + 0x02] = (b[off + 0x02] as number) ^ 1; // uid
    expect(await code(walkAll(b))).toBe('CHECKSUM_MISMATCH');
  });

  it('directory block checksum mismatch → CHECKSUM_MISMATCH', async () => {
    const b = Buffer.from(csumImg);
    const blk = await firstBlock(csumPath, '/sub');
    b[blk * BS + 12 + 8] = 0x58; // inside '..' name area of the first dir block
    expect(await code(walkAll(b))).toBe('CHECKSUM_MISMATCH');
  });

  it('looping extent tree → CORRUPT_FILESYSTEM', async () => {
    const b = Buffer.from(plainImg);
    const off = await inodeOffset(plainPath, '/sub/data');
    const loopBlock = 3000; // a free block of the 16 MiB file system
    // root: depth 2, one index entry → loopBlock; loopBlock: depth 1, one index entry → itself
    const root = off + 0x28;
    b.writeUInt16LE(0xf30a, root);
    b.writeUInt16LE(1, root + 2);
    b.writeUInt16LE(4, root + 4);
    b.writeUInt16LE(2, root + 6);
    b.writeUInt32LE(0, root + 12);
    b.writeUInt32LE(loopBlock, root + 16);
    b.writeUInt16LE(0, root + 20);
    const node = loopBlock * BS;
    b.writeUInt16LE(0xf30a, node);
    b.writeUInt16LE(1, node + 2);
    b.writeUInt16LE(340, node + 4);
    b.writeUInt16LE(1, node + 6);
    b.writeUInt32LE(0, node + 12);
    b.writeUInt32LE(loopBlock, node + 16);
    b.writeUInt16LE(0, node + 20);
    const err = await walkAll(b).catch((e: unknown) => e);
    expect((err as ImageError).code).toBe('CORRUPT_FILESYSTEM');
    expect((err as Error).message).toMatch(/loop/);
  });

  it('directory entry pointing beyond the inode table → CORRUPT_FILESYSTEM', async () => {
    const b = Buffer.from(plainImg);
    const blk = await firstBlock(plainPath, '/sub');
    // third entry of /sub's first block ('data'), after '.' (12) and '..' (12)
    b.writeUInt32LE(0x7fffffff, blk * BS + 24);
    const err = await walkAll(b).catch((e: unknown) => e);
    expect((err as ImageError).code).toBe('CORRUPT_FILESYSTEM');
    expect((err as Error).message).toMatch(/beyond/);
  });

  it("a name holding '/' (path traversal) → CORRUPT_FILESYSTEM, and extraction refuses unsafe paths", async () => {
    const b = Buffer.from(plainImg);
    const blk = await firstBlock(plainPath, '/sub');
    // third entry of /sub's first block is 'data': name starts at +8 of the entry at byte 24
    expect(b.subarray(blk * BS + 32, blk * BS + 36).toString()).toBe('data');
    b.write('d/ta', blk * BS + 32, 'latin1');
    expect(await code(walkAll(b))).toBe('CORRUPT_FILESYSTEM');
    expect(() => checkedRelativePath('/a/../../etc')).toThrow(ImageError);
    expect(() => checkedRelativePath('/a//b')).toThrow(ImageError);
    expect(checkedRelativePath('/usr/bin/sudo')).toBe('usr/bin/sudo');
  });

  it('record length running off the block → CORRUPT_FILESYSTEM', async () => {
    const b = Buffer.from(plainImg);
    const blk = await firstBlock(plainPath, '/sub');
    b.writeUInt16LE(5000, blk * BS + 4);
    expect(await code(walkAll(b))).toBe('CORRUPT_FILESYSTEM');
  });

  it('impossible file size → CORRUPT_FILESYSTEM, without allocating it', async () => {
    const b = Buffer.from(plainImg);
    const off = await inodeOffset(plainPath, '/sub/data');
    b.writeUInt32LE(0xffffffff, off + 0x6c);
    const before = process.memoryUsage().rss;
    expect(await code(walkAll(b))).toBe('CORRUPT_FILESYSTEM');
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });

  it('bad xattr block → CORRUPT_FILESYSTEM; extraction of a corrupt image leaves no output', async () => {
    const b = Buffer.from(plainImg);
    const st = await debugfs(plainPath, 'stat /hello');
    const m = /File ACL: (\d+)/.exec(st);
    const acl = Number(m?.[1]);
    expect(acl).toBeGreaterThan(0);
    b.writeUInt32LE(0xdeadbeef, acl * BS);
    expect(await code(walkAll(b))).toBe('CORRUPT_FILESYSTEM');
    const fs = await openExt4(new BufferSource(b));
    const to = join(work, 'out.tar');
    expect(await code(extract(fs, { to, format: 'tar' }))).toBe('CORRUPT_FILESYSTEM');
    await expect(readFile(to)).rejects.toThrow();
    await expect(readFile(`${to}.partial`)).rejects.toThrow();
  });
});
