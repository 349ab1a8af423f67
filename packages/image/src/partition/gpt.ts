import type { BlockSource } from '../block-source.js';
import { ImageError } from '../errors.js';
import type { PartitionInfo } from './types.js';

const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

/**
 * GUID Partition Table (UEFI 2.10 section 5.3). Header at LBA 1:
 *   0  "EFI PART"   8 revision   12 header size (>= 92)   16 header CRC32 (computed with this field zeroed)
 *   24 my LBA       32 alternate LBA   40 first usable LBA   48 last usable LBA
 *   56 disk GUID    72 partition entry LBA   80 number of entries   84 entry size (128 * 2^n)
 *   88 CRC32 of the entry array
 * Entry: 0 type GUID, 16 unique partition GUID (= PARTUUID), 32 first LBA, 40 last LBA (inclusive),
 *   48 attributes, 56 name (36 UTF-16LE code units).
 * If the primary header or its entries fail their CRC, the backup (at the alternate LBA, normally
 * the last sector) is used (section 5.3.2); if both fail the table is refused.
 */
const SIGNATURE = 'EFI PART';
/** Refuse entry arrays larger than this (the usual array is 128 x 128 = 16 KiB). */
const MAX_ENTRY_BYTES = 1024 * 1024;

export async function readGpt(
  source: BlockSource,
  sectorSize = 512,
): Promise<{ diskId: string; partitions: PartitionInfo[] }> {
  const problems: string[] = [];
  const primary = await tryHeader(source, 1, sectorSize, problems);
  if (primary) return primary;
  const lastLba = Math.floor(source.size / sectorSize) - 1;
  const backup = lastLba > 1 ? await tryHeader(source, lastLba, sectorSize, problems) : undefined;
  if (backup) return backup;
  const checksum = problems.some((p) => p.includes('CRC'));
  throw new ImageError(
    checksum ? 'CHECKSUM_MISMATCH' : 'BAD_PARTITION_TABLE',
    `no valid GPT (protective MBR present): ${problems.join('; ')}`,
  );
}

async function tryHeader(
  source: BlockSource,
  lba: number,
  sectorSize: number,
  problems: string[],
): Promise<{ diskId: string; partitions: PartitionInfo[] } | undefined> {
  const where = lba === 1 ? 'primary GPT header' : `backup GPT header (LBA ${lba})`;
  if ((lba + 1) * sectorSize > source.size) {
    problems.push(`${where} is past the end of the image`);
    return undefined;
  }
  const h = await source.read(lba * sectorSize, sectorSize);
  if (h.subarray(0, 8).toString('latin1') !== SIGNATURE) {
    problems.push(`${where} has no "EFI PART" signature`);
    return undefined;
  }
  const headerSize = h.readUInt32LE(12);
  if (headerSize < 92 || headerSize > sectorSize) {
    problems.push(`${where} has an invalid header size ${headerSize}`);
    return undefined;
  }
  const copy = Buffer.from(h.subarray(0, headerSize));
  const storedCrc = copy.readUInt32LE(16);
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== storedCrc) {
    problems.push(`${where} CRC32 mismatch`);
    return undefined;
  }
  const entryLba = Number(h.readBigUInt64LE(72));
  const count = h.readUInt32LE(80);
  const entrySize = h.readUInt32LE(84);
  if (entrySize < 128 || entrySize % 128 !== 0 || count * entrySize > MAX_ENTRY_BYTES) {
    problems.push(`${where} declares ${count} entries of ${entrySize} bytes`);
    return undefined;
  }
  const arrayBytes = count * entrySize;
  if (entryLba * sectorSize + arrayBytes > source.size) {
    problems.push(`${where}'s entry array is past the end of the image`);
    return undefined;
  }
  const entries = await source.read(entryLba * sectorSize, arrayBytes);
  if (crc32(entries) !== h.readUInt32LE(88)) {
    problems.push(`${where} entry array CRC32 mismatch`);
    return undefined;
  }
  const diskId = guidToString(h.subarray(56, 72));
  const partitions: PartitionInfo[] = [];
  for (let i = 0; i < count; i++) {
    const e = entries.subarray(i * entrySize, (i + 1) * entrySize);
    const type = guidToString(e.subarray(0, 16));
    if (type === ZERO_GUID) continue;
    const first = Number(e.readBigUInt64LE(32));
    const last = Number(e.readBigUInt64LE(40));
    if (last < first)
      throw new ImageError(
        'BAD_PARTITION_TABLE',
        `GPT entry ${i + 1} ends (LBA ${last}) before it starts (LBA ${first})`,
      );
    const start = first * sectorSize;
    const size = (last - first + 1) * sectorSize;
    if (start + size > source.size) {
      throw new ImageError(
        'TRUNCATED',
        `partition ${i + 1} (bytes ${start}..${start + size}) ends past the end of the image (${source.size} bytes): the image is truncated`,
      );
    }
    const name = decodeName(e.subarray(56, 128));
    partitions.push({
      number: i + 1,
      start,
      size,
      type,
      partuuid: guidToString(e.subarray(16, 32)),
      ...(name ? { label: name } : {}),
    });
  }
  return { diskId, partitions };
}

function decodeName(b: Buffer): string {
  const s = b.toString('utf16le');
  const nul = s.indexOf('\0');
  return nul >= 0 ? s.slice(0, nul) : s;
}

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as GPT uses (UEFI 2.10 section 5.3.2). */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = (TABLE[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A GUID as stored on disk (UEFI 2.10 appendix A: the first three fields little-endian, the last
 * two big-endian) to its canonical lowercase text form.
 */
function guidToString(b: Buffer): string {
  const h = (s: number, e: number, le: boolean) => {
    const part = Buffer.from(b.subarray(s, e));
    if (le) part.reverse();
    return part.toString('hex');
  };
  return `${h(0, 4, true)}-${h(4, 6, true)}-${h(6, 8, true)}-${h(8, 10, false)}-${h(10, 16, false)}`;
}
