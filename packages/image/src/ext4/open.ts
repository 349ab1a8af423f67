import type { Logger } from '@bramble/logger';
import { z } from 'zod';
import type { BlockSource } from '../block-source.js';
import { ImageError } from '../errors.js';
import { descriptorBlock, parseGroupDescs } from './group-desc.js';
import { Incompat, parseSuperblock, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE } from './superblock.js';
import { Ext4FileSystem } from './volume.js';

export const Ext4OpenOptions = z.object({
  /** Accept a file system whose journal needs recovery (reads the possibly stale on-disk state). */
  allowDirty: z.boolean().optional(),
  /** Verify metadata_csum checksums (default true). */
  verifyChecksums: z.boolean().optional(),
  logger: z
    .custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).debug === 'function')
    .optional(),
});
export type Ext4OpenOptions = z.input<typeof Ext4OpenOptions>;

/**
 * Open an ext2/3/4 file system on a BlockSource, read-only. Refuses unknown INCOMPAT features
 * (UNSUPPORTED_FEATURE) and a journal that needs recovery (NEEDS_RECOVERY, unless allowDirty).
 * Closing the file system does not close the source.
 */
export async function openExt4(source: BlockSource, opts: Ext4OpenOptions = {}): Promise<Ext4FileSystem> {
  const options = Ext4OpenOptions.parse(opts);
  if (source.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) {
    throw new ImageError(
      'UNKNOWN_FILESYSTEM',
      `partition of ${source.size} bytes is too small to hold an ext2/3/4 file system`,
    );
  }
  const verify = options.verifyChecksums ?? true;
  const sb = parseSuperblock(await source.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE), source.size, verify);
  if (sb.featureIncompat & Incompat.RECOVER && !options.allowDirty) {
    throw new ImageError(
      'NEEDS_RECOVERY',
      'the ext4 journal needs recovery (the file system was not cleanly unmounted): run `e2fsck -E journal_only` on a copy of the image, or pass allowDirty: true to read the possibly inconsistent on-disk state',
    );
  }
  const descPerBlock = sb.blockSize / sb.descSize;
  const nBlocks = Math.ceil(sb.groupCount / descPerBlock);
  const parts: Buffer[] = [];
  for (let n = 0; n < nBlocks; n++) {
    const blk = descriptorBlock(sb, n);
    if (blk >= sb.blocksCount)
      throw new ImageError('CORRUPT_FILESYSTEM', `group descriptor block ${blk} is outside the file system`);
    parts.push(await source.read(blk * sb.blockSize, sb.blockSize));
  }
  const groups = parseGroupDescs(sb, Buffer.concat(parts), verify);
  options.logger?.debug(
    {
      label: sb.volumeName,
      blockSize: sb.blockSize,
      groups: sb.groupCount,
      incompat: sb.featureIncompat.toString(16),
    },
    'opened ext4 file system',
  );
  return new Ext4FileSystem(source, sb, groups, { verifyChecksums: verify, logger: options.logger });
}
