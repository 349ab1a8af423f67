import { ImageError } from '../errors.js';
import type { BlockRun, MapContext } from './extents.js';

/**
 * Classic ext2/3 block map (ifork.rst "Direct/Indirect Block Addressing"): i_block[0..11]
 * direct, [12] single, [13] double, [14] triple indirect. Block 0 is a hole. Only the blocks
 * covering the file size are mapped; each indirect block is read once (no loops).
 */
export async function mapBlockMap(iblock: Buffer, fileBlocks: number, ctx: MapContext): Promise<BlockRun[]> {
  const runs: BlockRun[] = [];
  const per = ctx.blockSize / 4;
  const seen = new Set<number>();
  const push = (logical: number, physical: number): void => {
    if (physical >= ctx.blocksCount) {
      throw new ImageError(
        'CORRUPT_FILESYSTEM',
        `inode ${ctx.ino}: block map points to block ${physical} outside the file system`,
      );
    }
    const prev = runs[runs.length - 1];
    if (prev && prev.logical + prev.length === logical && prev.physical + prev.length === physical)
      prev.length++;
    else runs.push({ logical, physical, length: 1, uninit: false });
  };
  const indirect = async (block: number, level: number, base: number): Promise<void> => {
    if (block >= ctx.blocksCount) {
      throw new ImageError(
        'CORRUPT_FILESYSTEM',
        `inode ${ctx.ino}: indirect block ${block} is outside the file system`,
      );
    }
    if (seen.has(block))
      throw new ImageError('CORRUPT_FILESYSTEM', `inode ${ctx.ino}: block map loops at block ${block}`);
    seen.add(block);
    const buf = await ctx.readBlock(block);
    const span = per ** (level - 1);
    for (let i = 0; i < per; i++) {
      const logical = base + i * span;
      if (logical >= fileBlocks) break;
      const p = buf.readUInt32LE(i * 4);
      if (p === 0) continue;
      if (level === 1) push(logical, p);
      else await indirect(p, level - 1, logical);
    }
  };
  for (let i = 0; i < 12 && i < fileBlocks; i++) {
    const p = iblock.readUInt32LE(i * 4);
    if (p !== 0) push(i, p);
  }
  let base = 12;
  for (let level = 1; level <= 3; level++) {
    if (base >= fileBlocks) break;
    const p = iblock.readUInt32LE((11 + level) * 4);
    if (p !== 0) await indirect(p, level, base);
    base += per ** level;
  }
  return runs;
}
