import { ImageError } from '../errors.js';
import type { EntryType } from '../filesystem.js';
import { crc32c } from './crc32c.js';

/** ext4_dir_entry_2.file_type (directory.rst). */
const FILE_TYPES: Record<number, EntryType> = {
  1: 'file',
  2: 'directory',
  3: 'char',
  4: 'block',
  5: 'fifo',
  6: 'socket',
  7: 'symlink',
};

export interface RawDirEntry {
  name: string;
  ino: number;
  /** undefined when the file system has no `filetype` feature (type must come from the inode). */
  type: EntryType | undefined;
  /** The on-disk name is not valid UTF-8; `name` holds U+FFFD replacements. */
  lossy?: boolean;
}

export interface DirParseOptions {
  ino: number;
  blockSize: number;
  inodesCount: number;
  hasFileType: boolean;
  /** Per-inode checksum seed when verifying metadata_csum, else undefined. */
  csumSeed: number | undefined;
}

/** rec_len on disk → bytes; 65535/0 mean 65536 with 64 KiB blocks (ext4_rec_len_from_disk). */
function recLen(v: number, blockSize: number): number {
  if (blockSize < 65536) return v;
  if (v === 65535 || v === 0) return blockSize;
  return (v & 65532) | ((v & 3) << 16);
}

/**
 * Parse a run of linear directory entries (ext4_dir_entry_2: inode u32, rec_len u16, name_len u8,
 * file_type u8, name). Entries with inode 0 are free space, htree dx_root/dx_node fake entries or
 * the 12-byte checksum tail (file_type 0xDE), so a linear scan of an htree directory yields each
 * entry exactly once (directory.rst "Hash Tree Directories"). '.' and '..' are dropped.
 */
export function parseDirEntries(
  buf: Buffer,
  options: DirParseOptions,
  out: RawDirEntry[],
  where: string,
): void {
  let off = 0;
  while (off < buf.length) {
    if (off + 8 > buf.length)
      throw new ImageError('CORRUPT_FILESYSTEM', `directory ${options.ino}: truncated entry in ${where}`);
    const ino = buf.readUInt32LE(off);
    const len = recLen(buf.readUInt16LE(off + 4), options.blockSize);
    const nameLen = options.hasFileType ? buf.readUInt8(off + 6) : buf.readUInt16LE(off + 6) & 0xff;
    const ft = options.hasFileType ? buf.readUInt8(off + 7) : 0;
    if (len < 8 || len % 4 !== 0 || off + len > buf.length || (ino !== 0 && 8 + nameLen > len)) {
      throw new ImageError(
        'CORRUPT_FILESYSTEM',
        `directory ${options.ino}: entry at byte ${off} of ${where} has an invalid record length ${len}`,
      );
    }
    if (ino !== 0) {
      if (ino > options.inodesCount) {
        throw new ImageError(
          'CORRUPT_FILESYSTEM',
          `directory ${options.ino}: entry points to inode ${ino}, beyond the ${options.inodesCount} inodes of the file system`,
        );
      }
      const nameBuf = buf.subarray(off + 8, off + 8 + nameLen);
      const isDot = nameLen === 1 && nameBuf[0] === 0x2e;
      const isDotDot = nameLen === 2 && nameBuf[0] === 0x2e && nameBuf[1] === 0x2e;
      if (nameBuf.includes(0x2f) || nameBuf.includes(0)) {
        throw new ImageError(
          'CORRUPT_FILESYSTEM',
          `directory ${options.ino}: entry name contains '/' or NUL (corrupt or malicious image)`,
        );
      }
      if (!isDot && !isDotDot && nameLen > 0) {
        const name = nameBuf.toString('utf8');
        const lossy = name.includes('\uFFFD') && !Buffer.from(name, 'utf8').equals(nameBuf);
        out.push({
          name,
          ino,
          type: options.hasFileType ? FILE_TYPES[ft] : undefined,
          ...(lossy ? { lossy } : {}),
        });
      }
    }
    off += len;
  }
}

/** If a leaf block ends in the 12-byte checksum tail, verify crc32c(inodeSeed, block[0..-12]) (directory.rst). */
export function verifyDirBlock(block: Buffer, options: DirParseOptions, logical: number): void {
  if (options.csumSeed === undefined || block.length < 12) return;
  const t = block.length - 12;
  const isTail =
    block.readUInt32LE(t) === 0 &&
    block.readUInt16LE(t + 4) === 12 &&
    block.readUInt8(t + 6) === 0 &&
    block.readUInt8(t + 7) === 0xde;
  if (!isTail) return; // dx_root / dx_node blocks carry a different tail; linear reading skips them anyway
  const want = block.readUInt32LE(t + 8);
  const got = crc32c(options.csumSeed, block.subarray(0, t));
  if (want !== got) {
    throw new ImageError(
      'CHECKSUM_MISMATCH',
      `directory ${options.ino}: block ${logical} checksum mismatch (stored 0x${want.toString(16)}, computed 0x${got.toString(16)})`,
    );
  }
}
