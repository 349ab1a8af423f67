import { ImageError } from '../errors.js';
import { crc32c, le32 } from './crc32c.js';
import { Incompat, RoCompat, type Superblock } from './superblock.js';

/** One block group descriptor (group_descr.rst); 32 bytes, or s_desc_size with 64bit. */
export interface GroupDesc {
  inodeTable: number;
  flags: number;
  itableUnused: number;
  /** bg_free_blocks_count (lo + hi with 64bit). */
  freeBlocks: number;
}

export const BG_INODE_UNINIT = 0x1;

/** Does group `g` hold a superblock backup (sparse_super: 0, 1 and powers of 3, 5, 7)? */
export function groupHasSuper(sb: Superblock, g: number): boolean {
  if (g <= 1) return true;
  if (!(sb.featureRoCompat & RoCompat.SPARSE_SUPER)) return true;
  if (g % 2 === 0) return false;
  for (const base of [3, 5, 7]) {
    let p = base;
    while (p < g) p *= base;
    if (p === g) return true;
  }
  return false;
}

/** Block number of the n-th descriptor block (e2fsprogs ext2fs_descriptor_block_loc2; meta_bg aware). */
export function descriptorBlock(sb: Superblock, n: number): number {
  const descPerBlock = sb.blockSize / sb.descSize;
  if (!(sb.featureIncompat & Incompat.META_BG) || n < sb.firstMetaBg) return sb.firstDataBlock + 1 + n;
  const g = n * descPerBlock;
  return sb.firstDataBlock + g * sb.blocksPerGroup + (groupHasSuper(sb, g) ? 1 : 0);
}

/** Parse every group descriptor from the raw descriptor blocks, verifying metadata_csum checksums. */
export function parseGroupDescs(sb: Superblock, blocks: Buffer, verify: boolean): GroupDesc[] {
  const out: GroupDesc[] = [];
  const ds = sb.descSize;
  const bit64 = ds >= 64;
  for (let g = 0; g < sb.groupCount; g++) {
    const d = blocks.subarray(g * ds, g * ds + ds);
    if (d.length < ds)
      throw new ImageError('TRUNCATED', `group descriptor ${g} is past the end of the descriptor table`);
    const inodeTable = d.readUInt32LE(0x08) + (bit64 ? d.readUInt32LE(0x28) * 2 ** 32 : 0);
    const itableUnused = d.readUInt16LE(0x1c) + (bit64 ? d.readUInt16LE(0x32) * 65536 : 0);
    if (sb.metadataCsum && verify) {
      // crc32c(seed, le32 group) over the descriptor with bg_checksum (0x1E) zeroed; low 16 bits (group_descr.rst).
      let c = crc32c(sb.csumSeed, le32(g));
      c = crc32c(c, d.subarray(0, 0x1e));
      c = crc32c(c, ZERO2);
      if (ds > 0x20) c = crc32c(c, d.subarray(0x20, ds));
      const want = d.readUInt16LE(0x1e);
      if ((c & 0xffff) !== want) {
        throw new ImageError(
          'CHECKSUM_MISMATCH',
          `group descriptor ${g} checksum mismatch (stored 0x${want.toString(16)}, computed 0x${(c & 0xffff).toString(16)}): the image is corrupt`,
        );
      }
    }
    if (inodeTable === 0 || inodeTable >= sb.blocksCount) {
      throw new ImageError(
        'CORRUPT_FILESYSTEM',
        `group ${g} inode table at block ${inodeTable} is outside the file system`,
      );
    }
    const freeBlocks = d.readUInt16LE(0x0c) + (bit64 ? d.readUInt16LE(0x2c) * 65536 : 0);
    out.push({ inodeTable, flags: d.readUInt16LE(0x12), itableUnused, freeBlocks });
  }
  return out;
}

const ZERO2 = Buffer.alloc(2);
