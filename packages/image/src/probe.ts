import type { BlockSource } from './block-source.js';
import { probeExt } from './ext4/superblock.js';
import { probeFat } from './fat/fat-fs.js';
import { EXT_SUPERBLOCK_OFFSET, EXT_SUPERBLOCK_SIZE, type FsProbe, hasExtMagic } from './magic.js';

export type { FsProbe, FsType } from './magic.js';

/** Identify the file system at the start of `source` from its superblock / boot sector. */
export async function probeFileSystem(source: BlockSource): Promise<FsProbe> {
  if (source.size >= EXT_SUPERBLOCK_OFFSET + EXT_SUPERBLOCK_SIZE) {
    const superblock = await source.read(EXT_SUPERBLOCK_OFFSET, EXT_SUPERBLOCK_SIZE);
    if (hasExtMagic(superblock)) return probeExt(superblock);
  }
  return (await probeFat(source)) ?? { fsType: 'unknown' };
}
