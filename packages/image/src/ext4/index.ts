/** ext4 reader: barrel owned by the ext4 module. */
export { Ext4OpenOptions, openExt4 } from './open.js';
export type { Ext4FileSystem, Ext4Node } from './volume.js';
