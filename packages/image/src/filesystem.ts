import type { Readable } from 'node:stream';

/**
 * The contract every file-system reader (FAT, ext4) implements, and what extraction consumes.
 * Paths are POSIX, absolute within the file system ('/', '/etc/hostname').
 */
export type EntryType = 'file' | 'directory' | 'symlink' | 'block' | 'char' | 'fifo' | 'socket';

export interface Stat {
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Size in bytes (file length; symlink target length; 0 for devices). */
  size: number;
  nlink: number;
  /** Inode number (ext4) or a synthetic stable id (FAT). */
  ino: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  birthtimeNs?: bigint;
  /** Device number for block/char devices. */
  rdev?: { major: number; minor: number };
}

export interface DirEntry {
  name: string;
  ino: number;
  type: EntryType;
}

/** A resolved entry: the handle file-system readers hand back and take in. */
export interface FsNode {
  readonly ino: number;
  readonly stat: Stat;
}

/** A byte range that holds data; everything between ranges of a file is a hole. */
export interface DataRange {
  offset: number;
  length: number;
}

export interface Xattr {
  /** Linux xattr name: 'security.capability', 'user.foo', 'system.posix_acl_access', ... */
  name: string;
  /** Value exactly as Linux getxattr(2) returns it (POSIX ACLs in the Linux xattr format). */
  value: Buffer;
}

export interface FileSystem {
  readonly kind: 'fat' | 'ext4';
  readonly label: string | undefined;
  readonly uuid: string | undefined;
  /**
   * Bytes the file system's own accounting has in use (ext4: blocks not free; FAT: clusters not
   * free). The file data of a consistent file system fits in it, so extraction refuses to write
   * more (OUTPUT_LIMIT): shared blocks or clusters cannot amplify an image.
   */
  readonly usedBytes: number;
  /** Resolve a path without following a final symlink (lstat semantics). ImageError NOT_FOUND if absent. */
  lookup(path: string): Promise<FsNode>;
  node(ino: number): Promise<FsNode>;
  readdir(dir: FsNode): Promise<DirEntry[]>;
  readlink(link: FsNode): Promise<string>;
  /** Read file bytes [position, position+length) (clamped to the file size). */
  read(file: FsNode, position: number, length: number): Promise<Buffer>;
  /**
   * Optional: like `read`, into `target` (its length is the length asked for), so a caller can
   * reuse its buffers. Returns the bytes filled (clamped to the file size); holes read as zeros.
   */
  readInto?(file: FsNode, position: number, target: Buffer): Promise<number>;
  createReadStream(file: FsNode): Readable;
  /** Where a file has data; holes are the gaps. FAT returns one range covering the file. */
  dataRanges(file: FsNode): Promise<DataRange[]>;
  xattrs(node: FsNode): Promise<Xattr[]>;
  /** Depth-first walk, parents before children, '.' and '..' never yielded. */
  walk(start?: string): AsyncGenerator<{ path: string; node: FsNode }>;
  close(): Promise<void>;
}
