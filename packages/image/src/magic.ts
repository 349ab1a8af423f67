/**
 * On-disk signatures that identify what a sector holds, below every reader: the partition-table
 * code uses them to tell an MBR from a FAT boot sector, the FAT and ext4 readers and `probe.ts`
 * to recognise their file systems. No parsing beyond the signatures lives here.
 */

/** File-system types `openImage` recognises by their superblocks. */
export type FsType = 'fat12' | 'fat16' | 'fat32' | 'ext2' | 'ext3' | 'ext4' | 'unknown';

/** What a file system says about itself: its type, label and UUID (as blkid prints them). */
export interface FsProbe {
  fsType: FsType;
  label?: string;
  uuid?: string;
}

/** ext2/3/4 superblock: 1024 bytes at byte 1024, magic 0xEF53 at +0x38 (kernel ext4 super.rst). */
export const EXT_SUPERBLOCK_OFFSET = 1024;
export const EXT_SUPERBLOCK_SIZE = 1024;
export const EXT_MAGIC = 0xef53;

export function hasExtMagic(superblock: Buffer): boolean {
  return superblock.length >= 0x3a && superblock.readUInt16LE(0x38) === EXT_MAGIC;
}

/** Boot-sector signature 0x55 0xAA at bytes 510-511: MBRs, EBRs and FAT boot sectors all end in it. */
export function hasBootSignature(sector: Buffer): boolean {
  return sector.length >= 512 && sector[510] === 0x55 && sector[511] === 0xaa;
}

/** The x86 jump a FAT boot sector starts with (FAT spec 1.03 section 3.1, BS_jmpBoot: 0xEB or 0xE9). */
export function hasFatJump(sector: Buffer): boolean {
  return sector[0] === 0xeb || sector[0] === 0xe9;
}

/** A FAT boot sector: the jump, and "FAT" at 0x36 (BS_FilSysType, FAT12/16) or "FAT32" at 0x52. */
export function looksLikeFatBootSector(sector: Buffer): boolean {
  const fsTypeString =
    sector.subarray(0x36, 0x39).toString('latin1') === 'FAT' ||
    sector.subarray(0x52, 0x57).toString('latin1') === 'FAT32';
  return hasFatJump(sector) && fsTypeString;
}
