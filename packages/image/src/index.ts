/** @packageDocumentation @bramble/image: read disk images and extract their trees with full metadata. */

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
export * from './ext4/index.js';
export * from './extract/index.js';
export { FatFileSystem, type FatType, openFat, parseBootSector } from './fat/index.js';
export * from './filesystem.js';
export {
  type BootFiles,
  type ImageInspection,
  inspectImage,
  inspectOpened,
  parseOsRelease,
  readOsRelease,
} from './inspect.js';
export { type Logger, silentLogger } from './logger.js';
export {
  type FsType,
  type PartitionInfo,
  type PartitionTable,
  type PartitionTableKind,
  probeFileSystem,
  readPartitionTable,
} from './partition/index.js';
export { detectFormat } from './source/detect.js';
