/** @packageDocumentation @bramble/image: read disk images and extract their trees with full metadata. */
export * from './errors.js';
export * from './block-source.js';
export * from './filesystem.js';
