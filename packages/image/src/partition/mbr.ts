import type { BlockSource } from '../block-source.js';
import { ImageError } from '../errors.js';
import { hasBootSignature, looksLikeFatBootSector } from '../magic.js';
import type { PartitionInfo } from './types.js';

/**
 * Master Boot Record (classic layout):
 *   0x000 boot code (440 bytes)
 *   0x1B8 disk signature, u32 LE  -> PARTUUID prefix, 8 lowercase hex digits
 *   0x1BE four 16-byte partition entries:
 *         +0 status (0x80 active, 0x00 inactive)  +1 CHS first  +4 type  +5 CHS last
 *         +8 first LBA (u32 LE)                   +12 sector count (u32 LE)
 *   0x1FE signature 0x55 0xAA
 * Extended partitions (types 0x05, 0x0f, 0x85) hold a chain of EBRs: entry 0 is the logical
 * partition (relative to this EBR), entry 1 links to the next EBR (relative to the extended start).
 */
export const SECTOR = 512;
const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);
/** Linux caps logical partitions; a chain longer than this is a loop or garbage. */
const MAX_LOGICAL = 256;

export interface MbrEntry {
  status: number;
  type: number;
  firstLba: number;
  sectors: number;
}

export function mbrEntries(s: Buffer): MbrEntry[] {
  const out: MbrEntry[] = [];
  for (let i = 0; i < 4; i++) {
    const o = 446 + i * 16;
    out.push({
      status: s.readUInt8(o),
      type: s.readUInt8(o + 4),
      firstLba: s.readUInt32LE(o + 8),
      sectors: s.readUInt32LE(o + 12),
    });
  }
  return out;
}

/**
 * True if sector 0 is a plausible MBR: 0x55AA, every status byte 0x00/0x80, at least one used
 * entry, and not a FAT boot sector (a bare FAT volume also ends in 0x55AA).
 */
export function looksLikeMbr(s: Buffer): boolean {
  if (!hasBootSignature(s)) return false;
  const entries = mbrEntries(s);
  if (entries.some((e) => e.status !== 0 && e.status !== 0x80)) return false;
  if (!entries.some((e) => e.type !== 0 && e.sectors !== 0)) return false;
  return !looksLikeFatBootSector(s);
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** Parse an MBR and its extended/logical partitions. Positions are validated against the source size. */
export async function readMbr(
  source: BlockSource,
  sector0: Buffer,
): Promise<{ diskId: string; partitions: PartitionInfo[] }> {
  const diskId = sector0.readUInt32LE(440).toString(16).padStart(8, '0');
  const partuuid = (n: number) => `${diskId}-${hex2(n)}`;
  const partitions: PartitionInfo[] = [];
  const entries = mbrEntries(sector0);
  let extended: MbrEntry | undefined;
  entries.forEach((e, i) => {
    if (e.type === 0 || e.sectors === 0) return;
    if (EXTENDED_TYPES.has(e.type)) {
      extended ??= e;
      return;
    }
    partitions.push(
      checked(source, {
        number: i + 1,
        start: e.firstLba * SECTOR,
        size: e.sectors * SECTOR,
        type: hex2(e.type),
        partuuid: partuuid(i + 1),
        bootable: e.status === 0x80,
      }),
    );
  });
  if (extended) {
    const extStart = extended.firstLba;
    let ebrLba = extStart;
    const seen = new Set<number>();
    let number = 5;
    for (let i = 0; i < MAX_LOGICAL; i++) {
      if (seen.has(ebrLba)) {
        throw new ImageError(
          'BAD_PARTITION_TABLE',
          `the extended partition's EBR chain loops back to sector ${ebrLba}: the partition table is corrupt`,
        );
      }
      seen.add(ebrLba);
      const ebr = await source.read(ebrLba * SECTOR, SECTOR);
      if (!hasBootSignature(ebr)) {
        throw new ImageError(
          'BAD_PARTITION_TABLE',
          `no 0x55AA signature in the EBR at sector ${ebrLba}: the extended partition is corrupt`,
        );
      }
      const [logical, link] = mbrEntries(ebr);
      if (logical && logical.type !== 0 && logical.sectors !== 0) {
        partitions.push(
          checked(source, {
            number,
            start: (ebrLba + logical.firstLba) * SECTOR,
            size: logical.sectors * SECTOR,
            type: hex2(logical.type),
            partuuid: partuuid(number),
            bootable: logical.status === 0x80,
          }),
        );
        number++;
      }
      if (!link || link.type === 0 || link.sectors === 0 || !EXTENDED_TYPES.has(link.type)) break;
      ebrLba = extStart + link.firstLba;
      if (i === MAX_LOGICAL - 1) {
        throw new ImageError(
          'BAD_PARTITION_TABLE',
          `more than ${MAX_LOGICAL} logical partitions: the EBR chain is corrupt`,
        );
      }
    }
  }
  partitions.sort((a, b) => a.number - b.number);
  return { diskId, partitions };
}

function checked(source: BlockSource, p: PartitionInfo): PartitionInfo {
  if (p.start + p.size > source.size) {
    throw new ImageError(
      'TRUNCATED',
      `partition ${p.number} (bytes ${p.start}..${p.start + p.size}) ends past the end of the image (${source.size} bytes): the image is truncated`,
    );
  }
  return p;
}
