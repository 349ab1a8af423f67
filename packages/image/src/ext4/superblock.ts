import { ImageError } from '../errors.js';
import {
  EXT_MAGIC,
  EXT_SUPERBLOCK_OFFSET,
  EXT_SUPERBLOCK_SIZE,
  type FsProbe,
  type FsType,
} from '../magic.js';
import { crc32c } from './crc32c.js';

/** Feature bits (e2fsprogs lib/ext2fs/ext2_fs.h; kernel Documentation/filesystems/ext4/super.rst). */
export const Compat = { HAS_JOURNAL: 0x4, EXT_ATTR: 0x8, DIR_INDEX: 0x20 } as const;
export const Incompat = {
  COMPRESSION: 0x1,
  FILETYPE: 0x2,
  RECOVER: 0x4,
  JOURNAL_DEV: 0x8,
  META_BG: 0x10,
  EXTENTS: 0x40,
  BIT64: 0x80,
  MMP: 0x100,
  FLEX_BG: 0x200,
  EA_INODE: 0x400,
  DIRDATA: 0x1000,
  CSUM_SEED: 0x2000,
  LARGEDIR: 0x4000,
  INLINE_DATA: 0x8000,
  ENCRYPT: 0x10000,
  CASEFOLD: 0x20000,
} as const;
export const RoCompat = {
  SPARSE_SUPER: 0x1,
  LARGE_FILE: 0x2,
  BTREE_DIR: 0x4,
  HUGE_FILE: 0x8,
  GDT_CSUM: 0x10,
  DIR_NLINK: 0x20,
  EXTRA_ISIZE: 0x40,
  QUOTA: 0x100,
  BIGALLOC: 0x200,
  METADATA_CSUM: 0x400,
} as const;

/** INCOMPAT bits this reader understands; anything else is refused (a reader must not guess). */
const SUPPORTED_INCOMPAT =
  Incompat.FILETYPE |
  Incompat.RECOVER |
  Incompat.META_BG |
  Incompat.EXTENTS |
  Incompat.BIT64 |
  Incompat.MMP |
  Incompat.FLEX_BG |
  Incompat.CSUM_SEED |
  Incompat.LARGEDIR |
  Incompat.INLINE_DATA;

const INCOMPAT_NAMES: Record<number, string> = {
  [Incompat.COMPRESSION]: 'compression',
  [Incompat.JOURNAL_DEV]: 'journal_dev (this is an external journal device, not a file system)',
  [Incompat.EA_INODE]: 'ea_inode',
  [Incompat.DIRDATA]: 'dirdata',
  [Incompat.ENCRYPT]: 'encrypt',
  [Incompat.CASEFOLD]: 'casefold',
};

export interface Superblock {
  inodesCount: number;
  blocksCount: number;
  /** s_free_blocks_count (lo + hi with 64bit). */
  freeBlocksCount: number;
  firstDataBlock: number;
  blockSize: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  state: number;
  revLevel: number;
  firstIno: number;
  inodeSize: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  uuid: Buffer;
  volumeName: string;
  descSize: number;
  groupCount: number;
  firstMetaBg: number;
  /** crc32c seed for metadata checksums (s_checksum_seed or crc32c(~0, uuid)). */
  csumSeed: number;
  metadataCsum: boolean;
  hugeFile: boolean;
}

export const SUPERBLOCK_OFFSET = EXT_SUPERBLOCK_OFFSET;
export const SUPERBLOCK_SIZE = EXT_SUPERBLOCK_SIZE;

export function hasIncompat(sb: Superblock, bit: number): boolean {
  return (sb.featureIncompat & bit) !== 0;
}

/** Parse and validate the 1024-byte superblock (super.rst). */
export function parseSuperblock(b: Buffer, sourceSize: number, verifyChecksums: boolean): Superblock {
  const magic = b.readUInt16LE(0x38);
  if (magic !== EXT_MAGIC) {
    throw new ImageError(
      'UNKNOWN_FILESYSTEM',
      `no ext2/3/4 superblock: expected magic 0xEF53 at byte 1080, found 0x${magic.toString(16).padStart(4, '0')}`,
    );
  }
  const logBlock = b.readUInt32LE(0x18);
  if (logBlock > 6) {
    throw new ImageError(
      'CORRUPT_FILESYSTEM',
      `superblock block size 1024<<${logBlock} is out of range (max 64 KiB)`,
    );
  }
  const blockSize = 1024 << logBlock;
  const featureCompat = b.readUInt32LE(0x5c);
  const featureIncompat = b.readUInt32LE(0x60);
  const featureRoCompat = b.readUInt32LE(0x64);
  const metadataCsum = (featureRoCompat & RoCompat.METADATA_CSUM) !== 0;
  if (metadataCsum && verifyChecksums) {
    // Superblock checksum: crc32c(~0, sb[0..0x3FC]) stored at 0x3FC (checksums.rst).
    const want = b.readUInt32LE(0x3fc);
    const got = crc32c(0xffffffff, b.subarray(0, 0x3fc));
    if (want !== got) {
      throw new ImageError(
        'CHECKSUM_MISMATCH',
        `superblock checksum mismatch: stored 0x${want.toString(16)}, computed 0x${got.toString(16)}: the image is corrupt (re-download it)`,
      );
    }
  }
  const unknown = featureIncompat & ~SUPPORTED_INCOMPAT;
  if (unknown !== 0) {
    const names: string[] = [];
    for (let bit = 1; bit !== 0 && bit <= 0x80000000; bit = (bit << 1) >>> 0) {
      if (unknown & bit) names.push(INCOMPAT_NAMES[bit] ?? `0x${bit.toString(16)}`);
    }
    throw new ImageError(
      'UNSUPPORTED_FEATURE',
      `ext4 file system uses incompatible feature(s) this reader does not support: ${names.join(', ')}`,
    );
  }
  if (featureRoCompat & RoCompat.BIGALLOC) {
    throw new ImageError(
      'UNSUPPORTED_FEATURE',
      'ext4 file system uses bigalloc, which this reader does not support',
    );
  }
  const bit64 = (featureIncompat & Incompat.BIT64) !== 0;
  const blocksCount = b.readUInt32LE(0x04) + (bit64 ? b.readUInt32LE(0x150) * 2 ** 32 : 0);
  const firstDataBlock = b.readUInt32LE(0x14);
  const blocksPerGroup = b.readUInt32LE(0x20);
  const inodesPerGroup = b.readUInt32LE(0x28);
  const inodesCount = b.readUInt32LE(0x00);
  const revLevel = b.readUInt32LE(0x4c);
  const inodeSize = revLevel === 0 ? 128 : b.readUInt16LE(0x58);
  const firstIno = revLevel === 0 ? 11 : b.readUInt32LE(0x54);
  const descSize = bit64 ? b.readUInt16LE(0xfe) : 32;
  if (
    blocksPerGroup === 0 ||
    inodesPerGroup === 0 ||
    blocksPerGroup > blockSize * 8 ||
    inodesPerGroup > blockSize * 8
  ) {
    throw new ImageError(
      'CORRUPT_FILESYSTEM',
      `superblock has impossible group geometry (${blocksPerGroup} blocks, ${inodesPerGroup} inodes per group)`,
    );
  }
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) {
    throw new ImageError('CORRUPT_FILESYSTEM', `superblock inode size ${inodeSize} is invalid`);
  }
  if (bit64 && (descSize < 64 || descSize > 1024 || (descSize & (descSize - 1)) !== 0)) {
    throw new ImageError(
      'CORRUPT_FILESYSTEM',
      `64bit file system with invalid group descriptor size ${descSize}`,
    );
  }
  if (blocksCount <= firstDataBlock || firstDataBlock > 1) {
    throw new ImageError(
      'CORRUPT_FILESYSTEM',
      `superblock block count ${blocksCount} / first data block ${firstDataBlock} is invalid`,
    );
  }
  if (blocksCount * blockSize > sourceSize) {
    throw new ImageError(
      'TRUNCATED',
      `file system is ${blocksCount * blockSize} bytes but its partition holds only ${sourceSize}: the image is truncated`,
    );
  }
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  if (inodesCount > groupCount * inodesPerGroup || inodesCount === 0) {
    throw new ImageError(
      'CORRUPT_FILESYSTEM',
      `superblock inode count ${inodesCount} does not fit ${groupCount} groups`,
    );
  }
  const uuid = Buffer.from(b.subarray(0x68, 0x78));
  const nameBytes = b.subarray(0x78, 0x88);
  const nul = nameBytes.indexOf(0);
  const volumeName = nameBytes.subarray(0, nul < 0 ? 16 : nul).toString('utf8');
  const csumSeed = featureIncompat & Incompat.CSUM_SEED ? b.readUInt32LE(0x270) : crc32c(0xffffffff, uuid);
  return {
    inodesCount,
    blocksCount,
    freeBlocksCount: b.readUInt32LE(0x0c) + (bit64 ? b.readUInt32LE(0x158) * 2 ** 32 : 0),
    firstDataBlock,
    blockSize,
    blocksPerGroup,
    inodesPerGroup,
    state: b.readUInt16LE(0x3a),
    revLevel,
    firstIno,
    inodeSize,
    featureCompat,
    featureIncompat,
    featureRoCompat,
    uuid,
    volumeName,
    descSize,
    groupCount,
    firstMetaBg: b.readUInt32LE(0x104),
    csumSeed,
    metadataCsum,
    hugeFile: (featureRoCompat & RoCompat.HUGE_FILE) !== 0,
  };
}

/** '8-4-4-4-12' lowercase, as blkid prints it. */
export function formatUuid(u: Buffer): string {
  const h = u.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Features ext3 knows; anything beyond makes the file system ext4 (as blkid decides). */
const EXT3_INCOMPAT = Incompat.FILETYPE | Incompat.RECOVER | Incompat.META_BG;
const EXT3_RO_COMPAT = RoCompat.SPARSE_SUPER | RoCompat.LARGE_FILE | RoCompat.BTREE_DIR;

/** Type (ext2/3/4, by features as blkid decides), label and UUID of a raw superblock with the ext magic. */
export function probeExt(superblock: Buffer): FsProbe {
  const compat = superblock.readUInt32LE(0x5c);
  const incompat = superblock.readUInt32LE(0x60);
  const roCompat = superblock.readUInt32LE(0x64);
  let fsType: FsType = 'ext2';
  if (incompat & ~EXT3_INCOMPAT || roCompat & ~EXT3_RO_COMPAT) fsType = 'ext4';
  else if (compat & Compat.HAS_JOURNAL) fsType = 'ext3';
  const rawLabel = superblock.subarray(0x78, 0x88);
  const nul = rawLabel.indexOf(0);
  const label = rawLabel.subarray(0, nul >= 0 ? nul : 16).toString('utf8');
  // The ext UUID is stored as 16 bytes in big-endian order (printed as-is), unlike GPT GUIDs.
  const uuid = formatUuid(superblock.subarray(0x68, 0x78));
  return { fsType, ...(label ? { label } : {}), uuid };
}
