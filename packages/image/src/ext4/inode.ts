import { ImageError } from '../errors.js';
import type { EntryType, Stat } from '../filesystem.js';
import { crc32c, le32 } from './crc32c.js';
import type { Superblock } from './superblock.js';

/** i_flags bits (inodes.rst). */
export const InodeFlag = {
  INDEX: 0x1000,
  HUGE_FILE: 0x40000,
  EXTENTS: 0x80000,
  EA_INODE: 0x200000,
  INLINE_DATA: 0x10000000,
} as const;

/** A decoded on-disk inode (inodes.rst): what the reader needs beyond the public Stat. */
export interface Inode {
  ino: number;
  stat: Stat;
  flags: number;
  /** The 60-byte i_block area (extent root, block map, fast symlink, inline data, device number). */
  iblock: Buffer;
  /** i_blocks in 512-byte units. */
  blocks512: number;
  fileAcl: number;
  generation: number;
  /** Bytes after 128 + i_extra_isize: the in-inode xattr area (may be empty). */
  inlineXattrs: Buffer;
}

const S_IFMT = 0xf000;
const TYPES: Record<number, EntryType> = {
  4096: 'fifo',
  8192: 'char',
  16384: 'directory',
  24576: 'block',
  32768: 'file',
  40960: 'symlink',
  49152: 'socket',
};

export function typeOfMode(mode: number): EntryType | undefined {
  return TYPES[mode & S_IFMT];
}

/**
 * ext4 time = signed 32-bit seconds + epoch bits (extra & 3) << 32, nanoseconds = extra >> 2
 * (inodes.rst "Inode Timestamps").
 */
function decodeTime(lo: number, extra: number | undefined): bigint {
  let sec = BigInt(lo | 0);
  let ns = 0n;
  if (extra !== undefined) {
    sec += BigInt(extra & 3) << 32n;
    ns = BigInt(extra >>> 2);
  }
  return sec * 1_000_000_000n + ns;
}

/** Seed for per-inode checksums: crc32c(crc32c(fsSeed, ino), generation) (checksums.rst). */
export function inodeCsumSeed(sb: Superblock, ino: number, generation: number): number {
  return crc32c(crc32c(sb.csumSeed, le32(ino)), le32(generation));
}

const ZERO2 = Buffer.alloc(2);

function verifyInodeChecksum(sb: Superblock, ino: number, raw: Buffer, extraIsize: number): void {
  const size = raw.length;
  const hasHi = size > 128 && extraIsize >= 4;
  let c = inodeCsumSeed(sb, ino, raw.readUInt32LE(0x64));
  c = crc32c(c, raw.subarray(0, 0x7c));
  c = crc32c(c, ZERO2);
  if (hasHi) {
    c = crc32c(c, raw.subarray(0x7e, 0x82));
    c = crc32c(c, ZERO2);
    c = crc32c(c, raw.subarray(0x84, size));
  } else {
    c = crc32c(c, raw.subarray(0x7e, size));
  }
  const lo = raw.readUInt16LE(0x7c);
  const want = hasHi ? (lo | (raw.readUInt16LE(0x82) << 16)) >>> 0 : lo;
  const got = hasHi ? c >>> 0 : c & 0xffff;
  if (want !== got) {
    throw new ImageError(
      'CHECKSUM_MISMATCH',
      `inode ${ino} checksum mismatch (stored 0x${want.toString(16)}, computed 0x${got.toString(16)}): the image is corrupt`,
    );
  }
}

/** Decode device numbers: old 16-bit encoding in i_block[0], else new 32-bit one in i_block[1]. */
function decodeRdev(iblock: Buffer): { major: number; minor: number } {
  const old = iblock.readUInt32LE(0);
  if (old !== 0) return { major: (old >>> 8) & 0xff, minor: old & 0xff };
  const x = iblock.readUInt32LE(4);
  return { major: (x & 0xfff00) >>> 8, minor: (x & 0xff) | ((x >>> 12) & 0xfff00) };
}

/** Parse one raw inode (`sb.inodeSize` bytes). */
export function parseInode(sb: Superblock, ino: number, raw: Buffer, verify: boolean): Inode {
  const mode = raw.readUInt16LE(0x00);
  const type = typeOfMode(mode);
  if (type === undefined) {
    throw new ImageError(
      'CORRUPT_FILESYSTEM',
      `inode ${ino} has an invalid file type (mode 0o${mode.toString(8)})`,
    );
  }
  const extraIsize = raw.length > 128 ? raw.readUInt16LE(0x80) : 0;
  if (raw.length > 128 && (128 + extraIsize > raw.length || extraIsize % 4 !== 0)) {
    throw new ImageError('CORRUPT_FILESYSTEM', `inode ${ino} has an invalid i_extra_isize ${extraIsize}`);
  }
  if (sb.metadataCsum && verify) verifyInodeChecksum(sb, ino, raw, extraIsize);
  const end = 128 + extraIsize;
  const extra = (off: number): number | undefined => (off + 4 <= end ? raw.readUInt32LE(off) : undefined);
  const flags = raw.readUInt32LE(0x20);
  const size = raw.readUInt32LE(0x04) + raw.readUInt32LE(0x6c) * 2 ** 32;
  let blocks = raw.readUInt32LE(0x1c) + raw.readUInt16LE(0x74) * 2 ** 32;
  if (sb.hugeFile && flags & InodeFlag.HUGE_FILE) blocks *= sb.blockSize / 512;
  const iblock = Buffer.from(raw.subarray(0x28, 0x28 + 60));
  const crtime = extra(0x90);
  const stat: Stat = {
    type,
    mode: mode & 0o7777,
    uid: raw.readUInt16LE(0x02) + raw.readUInt16LE(0x78) * 65536,
    gid: raw.readUInt16LE(0x18) + raw.readUInt16LE(0x7a) * 65536,
    size: type === 'char' || type === 'block' ? 0 : size,
    nlink: raw.readUInt16LE(0x1a),
    ino,
    atimeNs: decodeTime(raw.readUInt32LE(0x08), extra(0x8c)),
    mtimeNs: decodeTime(raw.readUInt32LE(0x10), extra(0x88)),
    ctimeNs: decodeTime(raw.readUInt32LE(0x0c), extra(0x84)),
  };
  if (crtime !== undefined) stat.birthtimeNs = decodeTime(crtime, extra(0x94));
  if (type === 'char' || type === 'block') stat.rdev = decodeRdev(iblock);
  // 2^32 logical blocks is the ext4 maximum file size (extents address 32-bit logical blocks).
  if (size > 2 ** 32 * sb.blockSize) {
    throw new ImageError('CORRUPT_FILESYSTEM', `inode ${ino} has an impossible size ${size}`);
  }
  return {
    ino,
    stat,
    flags,
    iblock,
    blocks512: blocks,
    fileAcl: raw.readUInt32LE(0x68) + raw.readUInt16LE(0x76) * 2 ** 32,
    generation: raw.readUInt32LE(0x64),
    inlineXattrs: raw.length > end ? Buffer.from(raw.subarray(end)) : Buffer.alloc(0),
  };
}
