/** Extraction to a directory or a pax archive: barrel owned by the extract module. */
export { extract } from './extract.js';
export { ExtractOptions, type ExtractProgress, type ExtractResult } from './options.js';
export type { ExtractSource, PartitionedImage } from './resolve.js';
