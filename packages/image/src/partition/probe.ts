import type { BlockSource } from '../block-source.js';
import { type Bpb, parseBootSector } from '../fat/boot-sector.js';
import { parseDirectory } from '../fat/dir.js';
import type { FsType } from './types.js';

/** ext2/3/4 superblock: at byte 1024; magic 0xEF53 at +0x38 (docs.kernel.org ext4 super.html). */
const EXT_SUPER = 1024;
const EXT_MAGIC = 0xef53;
/** Features ext3 knows; anything beyond makes the file system ext4 (as blkid decides). */
const EXT3_INCOMPAT = 0x0002 | 0x0004 | 0x0010; // filetype, recover, meta_bg
const EXT3_RO_COMPAT = 0x0001 | 0x0002 | 0x0004; // sparse_super, large_file, btree_dir
const COMPAT_HAS_JOURNAL = 0x0004;

export interface FsProbe {
  fsType: FsType;
  label?: string;
  uuid?: string;
}

/** Identify the file system at the start of `source` from its superblock / boot sector. */
export async function probeFileSystem(source: BlockSource): Promise<FsProbe> {
  if (source.size >= EXT_SUPER + 1024) {
    const sb = await source.read(EXT_SUPER, 1024);
    if (sb.readUInt16LE(0x38) === EXT_MAGIC) return probeExt(sb);
  }
  if (source.size >= 512) {
    const bs = await source.read(0, 512);
    let bpb: Bpb | undefined;
    try {
      bpb = parseBootSector(bs);
    } catch {
      /* not FAT */
    }
    if (bpb) {
      const label = (await fatRootLabel(source, bpb).catch(() => undefined)) ?? bpb.bpbLabel;
      return { fsType: bpb.fatType, ...(label !== undefined ? { label } : {}), uuid: bpb.serial };
    }
  }
  return { fsType: 'unknown' };
}

function probeExt(sb: Buffer): FsProbe {
  const compat = sb.readUInt32LE(0x5c);
  const incompat = sb.readUInt32LE(0x60);
  const roCompat = sb.readUInt32LE(0x64);
  let fsType: FsType = 'ext2';
  if (incompat & ~EXT3_INCOMPAT || roCompat & ~EXT3_RO_COMPAT) fsType = 'ext4';
  else if (compat & COMPAT_HAS_JOURNAL) fsType = 'ext3';
  const rawLabel = sb.subarray(0x78, 0x88);
  const nul = rawLabel.indexOf(0);
  const label = rawLabel.subarray(0, nul >= 0 ? nul : 16).toString('utf8');
  // The ext UUID is stored as 16 bytes in big-endian order (printed as-is), unlike GPT GUIDs.
  const u = sb.subarray(0x68, 0x78).toString('hex');
  const uuid = `${u.slice(0, 8)}-${u.slice(8, 12)}-${u.slice(12, 16)}-${u.slice(16, 20)}-${u.slice(20)}`;
  return { fsType, ...(label ? { label } : {}), uuid };
}

/**
 * The volume label entry of a FAT root directory (blkid prefers it over the boot sector's copy).
 * Only the first root cluster (FAT32) or the fixed root region (FAT12/16) is read.
 */
async function fatRootLabel(source: BlockSource, bpb: Bpb): Promise<string | undefined> {
  const [offset, length] =
    bpb.fatType === 'fat32'
      ? [bpb.dataOffset + (bpb.rootCluster - 2) * bpb.clusterSize, bpb.clusterSize]
      : [bpb.rootDirOffset, bpb.rootDirBytes];
  const { volumeLabel } = parseDirectory(await source.read(offset, length), bpb.fatType === 'fat32');
  return volumeLabel === undefined || volumeLabel === 'NO NAME' ? undefined : volumeLabel;
}
