export { type Bpb, type FatType, parseBootSector } from './boot-sector.js';
export { FatFileSystem, FatNode, openFat } from './fat-fs.js';
