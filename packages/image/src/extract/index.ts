/** Extraction to a directory or a pax archive: barrel owned by the extract module. */
export { checkExtraction, extract, extractPartitions } from './extract.js';
export {
  ExtractOptions,
  ExtractPartitionsOptions,
  type ExtractProgress,
  type ExtractResult,
  ExtractTarget,
} from './options.js';
export type { ExtractSource, PartitionedImage } from './resolve.js';
