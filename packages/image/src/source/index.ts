export { type DecompressOptions, decompressToFile } from './decompress.js';
export { detectFileFormat, detectFormat, type ImageFormat } from './detect.js';
export { SparseWriter } from './sparse-writer.js';
export type { XzDecoder } from './xz.js';
