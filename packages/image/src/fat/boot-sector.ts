import { ImageError } from '../errors.js';
import { hasFatJump } from '../magic.js';

/**
 * FAT boot sector / BIOS Parameter Block (Microsoft "FAT: General Overview of On-Disk Format"
 * 1.03, section 3). Offsets:
 *   0x0B BytsPerSec (512/1024/2048/4096)  0x0D SecPerClus (1..128, power of 2)  0x0E RsvdSecCnt (>0)
 *   0x10 NumFATs  0x11 RootEntCnt  0x13 TotSec16  0x16 FATSz16  0x20 TotSec32
 *   FAT12/16: 0x27 VolID  0x2B VolLab[11]  0x36 FilSysType
 *   FAT32:    0x24 FATSz32  0x28 ExtFlags (bit 7: mirroring off, bits 0-3: the active FAT)  0x2C RootClus  0x43 VolID  0x47 VolLab[11]  0x52 FilSysType
 * The FAT type is decided by the count of data clusters alone (section 3.5):
 *   < 4085 -> FAT12, < 65525 -> FAT16, else FAT32.
 */
export type FatType = 'fat12' | 'fat16' | 'fat32';

export interface Bpb {
  fatType: FatType;
  bytesPerSector: number;
  sectorsPerCluster: number;
  clusterSize: number;
  reservedSectors: number;
  numFats: number;
  rootEntries: number;
  totalSectors: number;
  fatSectors: number;
  /** FAT32 root directory cluster; 0 on FAT12/16 (fixed root region). */
  rootCluster: number;
  /** Byte offset of the FAT in use (the first, unless FAT32 mirroring is off and another is active). */
  fatOffset: number;
  /** Byte offset and size of the FAT12/16 fixed root directory region. */
  rootDirOffset: number;
  rootDirBytes: number;
  /** Byte offset of cluster 2. */
  dataOffset: number;
  /** Number of data clusters (valid cluster numbers are 2 .. clusterCount + 1). */
  clusterCount: number;
  /** Volume serial as blkid prints it: 'XXXX-XXXX'. */
  serial: string;
  /** Label from the BPB (the root directory's volume-label entry takes precedence), undefined for "NO NAME". */
  bpbLabel: string | undefined;
}

const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** Parse and validate a FAT boot sector. Throws ImageError UNKNOWN_FILESYSTEM when it is not FAT. */
export function parseBootSector(b: Buffer): Bpb {
  if (b.length < 512) throw new ImageError('TRUNCATED', 'FAT boot sector: fewer than 512 bytes');
  const bad = (what: string) =>
    new ImageError(
      'UNKNOWN_FILESYSTEM',
      `not a FAT file system: boot sector ${what} (zeroed or overwritten boot sector?)`,
    );
  if (!hasFatJump(b))
    throw bad(`starts with 0x${(b[0] ?? 0).toString(16)}, expected a jump instruction (0xEB/0xE9)`);
  const bytesPerSector = b.readUInt16LE(0x0b);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) throw bad(`bytes per sector is ${bytesPerSector}`);
  const sectorsPerCluster = b.readUInt8(0x0d);
  if (!isPow2(sectorsPerCluster) || sectorsPerCluster > 128)
    throw bad(`sectors per cluster is ${sectorsPerCluster}`);
  const reservedSectors = b.readUInt16LE(0x0e);
  if (reservedSectors === 0) throw bad('has 0 reserved sectors');
  const numFats = b.readUInt8(0x10);
  if (numFats === 0 || numFats > 4) throw bad(`has ${numFats} FATs`);
  const rootEntries = b.readUInt16LE(0x11);
  const tot16 = b.readUInt16LE(0x13);
  const fat16Size = b.readUInt16LE(0x16);
  const tot32 = b.readUInt32LE(0x20);
  const totalSectors = tot16 !== 0 ? tot16 : tot32;
  const fatSectors = fat16Size !== 0 ? fat16Size : b.readUInt32LE(0x24);
  if (totalSectors === 0) throw bad('gives 0 total sectors');
  if (fatSectors === 0) throw bad('gives a FAT size of 0');
  const rootDirSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const firstDataSector = reservedSectors + numFats * fatSectors + rootDirSectors;
  if (firstDataSector >= totalSectors)
    throw bad(`puts the data region (sector ${firstDataSector}) past the volume end (${totalSectors})`);
  const clusterCount = Math.floor((totalSectors - firstDataSector) / sectorsPerCluster);
  const fatType: FatType = clusterCount < 4085 ? 'fat12' : clusterCount < 65525 ? 'fat16' : 'fat32';
  const fatBytesNeeded =
    fatType === 'fat12'
      ? Math.ceil(((clusterCount + 2) * 3) / 2)
      : (clusterCount + 2) * (fatType === 'fat16' ? 2 : 4);
  if (fatSectors * bytesPerSector < fatBytesNeeded)
    throw bad(`has a FAT of ${fatSectors} sectors, too small for ${clusterCount} clusters`);
  let rootCluster = 0;
  let activeFat = 0;
  if (fatType === 'fat32') {
    const extFlags = b.readUInt16LE(0x28);
    if (extFlags & 0x80) activeFat = extFlags & 0x0f;
    if (activeFat >= numFats) throw bad(`names FAT ${activeFat} as active but has ${numFats} FATs`);
    if (rootEntries !== 0 || fat16Size !== 0) throw bad('is FAT32 by cluster count but has FAT12/16 fields');
    rootCluster = b.readUInt32LE(0x2c);
    if (rootCluster < 2 || rootCluster > clusterCount + 1) {
      throw new ImageError(
        'CORRUPT_FILESYSTEM',
        `FAT32 root directory cluster ${rootCluster} is out of range 2..${clusterCount + 1}`,
      );
    }
  } else if (rootEntries === 0) {
    throw bad('is FAT12/16 but has no root directory entries');
  }
  const ext = fatType === 'fat32' ? 0x40 : 0x24;
  const hasExtBpb = b[ext + 2] === 0x29; // BS_BootSig: the three following fields are present
  const serialNum = hasExtBpb ? b.readUInt32LE(ext + 3) : 0;
  const rawLabel = hasExtBpb
    ? b
        .subarray(ext + 7, ext + 18)
        .toString('latin1')
        .replace(/[ \0]+$/, '')
    : '';
  return {
    fatType,
    bytesPerSector,
    sectorsPerCluster,
    clusterSize: bytesPerSector * sectorsPerCluster,
    reservedSectors,
    numFats,
    rootEntries,
    totalSectors,
    fatSectors,
    rootCluster,
    fatOffset: (reservedSectors + activeFat * fatSectors) * bytesPerSector,
    rootDirOffset: (reservedSectors + numFats * fatSectors) * bytesPerSector,
    rootDirBytes: rootEntries * 32,
    dataOffset: firstDataSector * bytesPerSector,
    clusterCount,
    serial:
      `${(serialNum >>> 16).toString(16).padStart(4, '0')}-${(serialNum & 0xffff).toString(16).padStart(4, '0')}`.toUpperCase(),
    bpbLabel: rawLabel === '' || rawLabel === 'NO NAME' ? undefined : rawLabel,
  };
}
