/** @packageDocumentation @bramble/image: read disk images and extract their trees with full metadata. */

export { type Logger, silentLogger } from '@bramble/logger';
export * from './block-source.js';
export {
  bootAndRootPartitions,
  type DiskImage,
  type ImageFormat,
  type OpenImageOptions,
  openImage,
  type XzDecoder,
} from './disk-image.js';
export * from './errors.js';
export { Ext4OpenOptions, openExt4 } from './ext4/open.js';
export type { Ext4FileSystem, Ext4Node } from './ext4/volume.js';
export { checkExtraction, extract, extractPartitions } from './extract/extract.js';
export {
  ExtractOptions,
  ExtractPartitionsOptions,
  type ExtractProgress,
  type ExtractResult,
  ExtractTarget,
} from './extract/options.js';
export type { ExtractSource, PartitionedImage } from './extract/resolve.js';
export { type FatType, parseBootSector } from './fat/boot-sector.js';
export { FatFileSystem, openFat } from './fat/fat-fs.js';
export * from './filesystem.js';
export {
  type BootFiles,
  type ImageInspection,
  inspectImage,
  inspectOpened,
  parseOsRelease,
  readOsRelease,
} from './inspect.js';
export {
  type FsType,
  type PartitionInfo,
  type PartitionTable,
  type PartitionTableKind,
  readPartitionTable,
} from './partition/index.js';
export { type FsProbe, probeFileSystem } from './probe.js';
export { detectFormat } from './source/detect.js';
