import { ImageError, OverlappingBlocksError } from '../errors.js';
import { crc32c } from './crc32c.js';

/** A run of logical file blocks mapped to physical blocks. `uninit` runs read as zeros (ifork.rst). */
export interface BlockRun {
  logical: number;
  physical: number;
  length: number;
  uninit: boolean;
}

export interface MapContext {
  ino: number;
  blockSize: number;
  blocksCount: number;
  /** Read one metadata block (cached). */
  readBlock(block: number): Promise<Buffer>;
  /** Per-inode checksum seed when metadata_csum is verified, else undefined. */
  csumSeed: number | undefined;
}

const EXT_MAGIC = 0xf30a;
const MAX_DEPTH = 5;
const INIT_MAX_LEN = 32768;

function corrupt(ino: number, what: string): ImageError {
  return new ImageError('CORRUPT_FILESYSTEM', `inode ${ino}: ${what}`);
}

/**
 * Walk an extent tree of any depth (ifork.rst "Extent Tree"): 12-byte header (magic 0xF30A,
 * entries, max, depth), index nodes (ei_block, ei_leaf_lo, ei_leaf_hi) or leaves (ee_block,
 * ee_len (>32768 = uninitialized), ee_start_hi, ee_start_lo). Guards: depth <= 5 and strictly
 * decreasing, each tree block visited once (no loops), physical blocks inside the file system,
 * logical blocks increasing. Tree blocks carry a crc32c tail with metadata_csum.
 */
export async function mapExtents(root: Buffer, ctx: MapContext): Promise<BlockRun[]> {
  const runs: BlockRun[] = [];
  const visited = new Set<number>();
  let lastEnd = 0;

  const walk = async (node: Buffer, expectDepth: number | undefined, isRoot: boolean): Promise<void> => {
    if (node.readUInt16LE(0) !== EXT_MAGIC) throw corrupt(ctx.ino, 'extent node has a bad magic number');
    const entries = node.readUInt16LE(2);
    const max = node.readUInt16LE(4);
    const depth = node.readUInt16LE(6);
    const cap = Math.floor((node.length - 12) / 12);
    if (entries > max || max > cap)
      throw corrupt(ctx.ino, `extent node claims ${entries}/${max} entries (room for ${cap})`);
    if (depth > MAX_DEPTH || (expectDepth !== undefined && depth !== expectDepth)) {
      throw corrupt(
        ctx.ino,
        `extent tree depth ${depth} is invalid (expected ${expectDepth ?? `<= ${MAX_DEPTH}`})`,
      );
    }
    if (!isRoot && ctx.csumSeed !== undefined) {
      const tail = 12 + 12 * max;
      if (tail + 4 <= node.length) {
        const want = node.readUInt32LE(tail);
        const got = crc32c(ctx.csumSeed, node.subarray(0, tail));
        if (want !== got) {
          throw new ImageError(
            'CHECKSUM_MISMATCH',
            `inode ${ctx.ino}: extent block checksum mismatch (stored 0x${want.toString(16)}, computed 0x${got.toString(16)})`,
          );
        }
      }
    }
    for (let i = 0; i < entries; i++) {
      const entry = 12 + i * 12;
      const logical = node.readUInt32LE(entry);
      if (depth === 0) {
        let len = node.readUInt16LE(entry + 4);
        const uninit = len > INIT_MAX_LEN;
        if (uninit) len -= INIT_MAX_LEN;
        const physical = node.readUInt16LE(entry + 6) * 2 ** 32 + node.readUInt32LE(entry + 8);
        if (len === 0) continue;
        if (logical < lastEnd)
          throw corrupt(ctx.ino, `extents overlap or are out of order at logical block ${logical}`);
        if (physical === 0 || physical + len > ctx.blocksCount) {
          throw corrupt(
            ctx.ino,
            `extent points to blocks ${physical}..${physical + len} outside the file system`,
          );
        }
        lastEnd = logical + len;
        const prev = runs[runs.length - 1];
        if (
          prev &&
          !uninit &&
          !prev.uninit &&
          prev.logical + prev.length === logical &&
          prev.physical + prev.length === physical
        ) {
          prev.length += len;
        } else {
          runs.push({ logical, physical, length: len, uninit });
        }
      } else {
        const leaf = node.readUInt32LE(entry + 4) + node.readUInt16LE(entry + 8) * 2 ** 32;
        if (leaf === 0 || leaf >= ctx.blocksCount)
          throw corrupt(ctx.ino, `extent index points to block ${leaf} outside the file system`);
        if (visited.has(leaf))
          throw corrupt(ctx.ino, `extent tree loops (block ${leaf} is referenced twice)`);
        visited.add(leaf);
        if (visited.size > ctx.blocksCount)
          throw corrupt(ctx.ino, 'extent tree is larger than the file system');
        const child = await ctx.readBlock(leaf);
        await walk(child, depth - 1, false);
      }
    }
  };
  await walk(root, undefined, true);
  return runs;
}

/**
 * Refuse a map in which two runs share a physical block: ext4 has no reflinks, so one inode's
 * blocks are its own, and a map that reuses them (two extents, or block-map entries, pointing at
 * the same blocks) is corrupt, and would make extraction write the same data many times.
 * OverlappingBlocksError (OVERLAPPING_BLOCKS) naming the first shared block.
 */
export function assertDisjoint(runs: readonly BlockRun[], ino: number): void {
  const byPhysical = [...runs].sort((a, b) => a.physical - b.physical);
  let end = 0;
  for (const run of byPhysical) {
    if (run.physical < end) throw new OverlappingBlocksError(ino, run.physical);
    end = Math.max(end, run.physical + run.length);
  }
}
