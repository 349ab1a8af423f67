import type { BlockSource } from '../block-source.js';
import { readGpt } from './gpt.js';
import { looksLikeMbr, mbrEntries, readMbr } from './mbr.js';
import type { PartitionTable } from './types.js';

export type { FsType, PartitionInfo, PartitionTable, PartitionTableKind } from './types.js';

const PROTECTIVE = 0xee;

/**
 * Read the partition table of a whole-disk source: GPT when the MBR is protective (type 0xEE),
 * else MBR; a source with no partition table is one pseudo-partition 1 covering everything.
 */
export async function readPartitionTable(source: BlockSource): Promise<PartitionTable> {
  if (source.size < 512) {
    return {
      table: 'none',
      partitions: [{ number: 1, start: 0, size: source.size, type: 'none', partuuid: '' }],
    };
  }
  const s0 = await source.read(0, 512);
  if (looksLikeMbr(s0)) {
    if (mbrEntries(s0).some((e) => e.type === PROTECTIVE)) {
      const { diskId, partitions } = await readGpt(source);
      return { table: 'gpt', diskId, partitions };
    }
    const { diskId, partitions } = await readMbr(source, s0);
    return { table: 'mbr', diskId, partitions };
  }
  return {
    table: 'none',
    partitions: [{ number: 1, start: 0, size: source.size, type: 'none', partuuid: '' }],
  };
}
