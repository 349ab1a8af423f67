import type { FsType } from '../magic.js';

export type { FsType } from '../magic.js';

/** One partition of a disk image. */
export interface PartitionInfo {
  /** Linux numbering: MBR primaries 1-4, logical partitions from 5; GPT entry index + 1. */
  number: number;
  /** Byte offset within the image. */
  start: number;
  /** Size in bytes. */
  size: number;
  /** MBR type as two hex digits ('0c', '83'); GPT type GUID (lowercase); 'none' for an unpartitioned image. */
  type: string;
  /** GPT partition name, else the file-system label. */
  label?: string;
  /** PARTUUID as the kernel and blkid print it: 'xxxxxxxx-0N' on MBR, the partition GUID on GPT ('' when unpartitioned). */
  partuuid: string;
  fsType?: FsType;
  /** File-system label (FAT volume label / ext label), when the file system has one. */
  fsLabel?: string;
  /** File-system UUID (FAT serial 'XXXX-XXXX', ext UUID). */
  fsUuid?: string;
  /** MBR: the active (bootable) flag. */
  bootable?: boolean;
}

export type PartitionTableKind = 'mbr' | 'gpt' | 'none';

export interface PartitionTable {
  table: PartitionTableKind;
  /** MBR disk signature as 8 lowercase hex digits; GPT disk GUID. */
  diskId?: string;
  partitions: PartitionInfo[];
}
