import { Readable } from 'node:stream';
import type { BlockSource } from '../block-source.js';
import { ImageError } from '../errors.js';
import type { DataRange, DirEntry, EntryType, FileSystem, FsNode, Stat, Xattr } from '../filesystem.js';
import type { FsProbe } from '../magic.js';
import { type Bpb, parseBootSector } from './boot-sector.js';
import {
  ATTR_DIRECTORY,
  ATTR_LFN_MASK,
  ATTR_READ_ONLY,
  ATTR_VOLUME_ID,
  decodeShortEntry,
  parseDirectory,
  type RawDirEntry,
} from './dir.js';
import { type ClusterRun, FatTable } from './table.js';

/** Synthetic inode number of the root directory. Other entries: byte offset of their short entry / 32. */
export const ROOT_INO = 1;
/** FAT spec 1.03 section 6: a directory holds at most 65536 entries (2 MiB). */
const MAX_DIR_BYTES = 65536 * 32;
/** Largest single read issued to the source. */
const MAX_READ = 4 * 1024 * 1024;
const RUN_CACHE_LIMIT = 4096;

/** A FAT file or directory. `cluster` is the first cluster (0: empty file, or the FAT12/16 root). */
export class FatNode implements FsNode {
  constructor(
    readonly ino: number,
    readonly stat: Stat,
    readonly cluster: number,
    readonly isRoot: boolean,
  ) {}
}

/**
 * Read-only FAT12/16/32 (FAT spec 1.03) as a FileSystem: long names, 8.3 case bits, attributes
 * as modes (directories 0755, files 0644, read-only files 0444, owner 0:0), timestamps read as UTC.
 */
export class FatFileSystem implements FileSystem {
  readonly kind = 'fat' as const;
  private readonly runCache = new Map<number, ClusterRun[]>();
  private readonly nodes = new Map<number, FatNode>();
  readonly root: FatNode;
  /** Bytes of the clusters in use per the FAT (file data of a consistent volume fits in them). */
  readonly usedBytes: number;

  private constructor(
    private readonly source: BlockSource,
    readonly bpb: Bpb,
    private readonly fat: FatTable,
    readonly label: string | undefined,
  ) {
    this.usedBytes = fat.usedClusters() * bpb.clusterSize;
    const zero = 0n;
    this.root = new FatNode(
      ROOT_INO,
      {
        type: 'directory',
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        nlink: 2,
        ino: ROOT_INO,
        atimeNs: zero,
        mtimeNs: zero,
        ctimeNs: zero,
      },
      bpb.rootCluster,
      true,
    );
  }

  get uuid(): string {
    return this.bpb.serial;
  }

  get fatType(): Bpb['fatType'] {
    return this.bpb.fatType;
  }

  static async open(source: BlockSource): Promise<FatFileSystem> {
    if (source.size < 512)
      throw new ImageError('TRUNCATED', `a FAT volume needs at least 512 bytes, this one has ${source.size}`);
    const bpb = parseBootSector(await source.read(0, 512));
    // A volume may claim a little more than its partition (sloppy tools); what we read is bounds-checked
    // by the source, but the FAT and root directory must be present.
    if (bpb.dataOffset > source.size) {
      throw new ImageError(
        'TRUNCATED',
        `the FAT volume needs ${bpb.totalSectors * bpb.bytesPerSector} bytes but only ${source.size} are present: the image is truncated`,
      );
    }
    const fat = await FatTable.load(source, bpb);
    const fs = new FatFileSystem(source, bpb, fat, undefined);
    const { volumeLabel } = parseDirectory(
      await fs.directoryBytes(fs.root).then((d) => d.bytes),
      bpb.fatType === 'fat32',
    );
    const label = volumeLabel && volumeLabel !== 'NO NAME' ? volumeLabel : bpb.bpbLabel;
    return label === undefined ? fs : new FatFileSystem(source, bpb, fat, label);
  }

  // ---- FileSystem -------------------------------------------------------------------------

  async lookup(path: string): Promise<FsNode> {
    const parts = splitPath(path);
    let cur: FatNode = this.root;
    const parents: FatNode[] = [];
    let walked = '';
    for (const part of parts) {
      if (part === '..') {
        cur = parents.pop() ?? this.root;
        walked = walked.slice(0, walked.lastIndexOf('/'));
        continue;
      }
      if (cur.stat.type !== 'directory')
        throw new ImageError('NOT_A_DIRECTORY', `${walked || '/'} is not a directory (looking up ${path})`);
      const entries = await this.rawEntries(cur);
      // FAT names are case-insensitive: exact match first, then ignoring case (as Linux vfat).
      const hit =
        entries.find((e) => e.entry.name === part) ??
        entries.find((e) => e.entry.name.toLowerCase() === part.toLowerCase());
      walked += `/${part}`;
      if (!hit) throw new ImageError('NOT_FOUND', `${walked} does not exist in the FAT volume`);
      parents.push(cur);
      cur = hit.node;
    }
    return cur;
  }

  async node(ino: number): Promise<FsNode> {
    if (ino === ROOT_INO) return this.root;
    const cached = this.nodes.get(ino);
    if (cached) return cached;
    const off = ino * 32;
    const inRoot =
      this.bpb.fatType !== 'fat32' &&
      off >= this.bpb.rootDirOffset &&
      off + 32 <= this.bpb.rootDirOffset + this.bpb.rootDirBytes;
    const inData = off >= this.bpb.dataOffset && off + 32 <= this.source.size;
    if (!Number.isSafeInteger(ino) || ino < 0 || (!inRoot && !inData))
      throw new ImageError('NOT_FOUND', `no FAT entry with inode number ${ino}`);
    const e = await this.source.read(off, 32);
    const attr = e[0x0b] as number;
    if (e[0] === 0 || e[0] === 0xe5 || (attr & ATTR_LFN_MASK) === 0x0f || attr & ATTR_VOLUME_ID) {
      throw new ImageError('NOT_FOUND', `no FAT entry with inode number ${ino}`);
    }
    return this.makeNode(ino, { name: '', index: 0, ...decodeShortEntry(e, this.bpb.fatType === 'fat32') });
  }

  async readdir(dir: FsNode): Promise<DirEntry[]> {
    const d = await this.own(dir);
    if (d.stat.type !== 'directory')
      throw new ImageError('NOT_A_DIRECTORY', `inode ${d.ino} is not a directory`);
    return (await this.rawEntries(d)).map(({ entry, node }) => ({
      name: entry.name,
      ino: node.ino,
      type: node.stat.type,
    }));
  }

  readlink(link: FsNode): Promise<string> {
    return Promise.reject(
      new ImageError('NOT_A_SYMLINK', `inode ${link.ino} is not a symlink: FAT has no symlinks`),
    );
  }

  async read(file: FsNode, position: number, length: number): Promise<Buffer> {
    const f = await this.own(file);
    if (f.stat.type === 'directory') throw new ImageError('IS_A_DIRECTORY', `inode ${f.ino} is a directory`);
    const size = f.stat.size;
    const start = Math.max(0, Math.min(position, size));
    const end = Math.max(start, Math.min(size, position + Math.max(0, length)));
    if (end === start) return Buffer.alloc(0);
    const runs = this.fileRuns(f);
    return this.readRuns(runs, start, end - start);
  }

  createReadStream(file: FsNode): Readable {
    const self = this;
    return Readable.from(
      (async function* () {
        const f = await self.own(file);
        const size = f.stat.size;
        for (let pos = 0; pos < size; pos += MAX_READ)
          yield await self.read(f, pos, Math.min(MAX_READ, size - pos));
      })(),
      { objectMode: false },
    );
  }

  async dataRanges(file: FsNode): Promise<DataRange[]> {
    const f = await this.own(file);
    return f.stat.type === 'file' && f.stat.size > 0 ? [{ offset: 0, length: f.stat.size }] : [];
  }

  xattrs(_node: FsNode): Promise<Xattr[]> {
    return Promise.resolve([]);
  }

  async *walk(start = '/'): AsyncGenerator<{ path: string; node: FsNode }> {
    const first = (await this.lookup(start)) as FatNode;
    const base = `/${splitPath(start).join('/')}`;
    // Pre-order depth-first: an entry, then its whole subtree, then its next sibling.
    const stack: { path: string; node: FatNode }[] = [{ path: base, node: first }];
    const seenDirs = new Set<number>([first.cluster]);
    let budget = this.bpb.clusterCount * (this.bpb.clusterSize / 32) + this.bpb.rootEntries + 1;
    while (stack.length > 0) {
      const { path, node } = stack.pop() as { path: string; node: FatNode };
      yield { path, node };
      if (node.stat.type !== 'directory') continue;
      const children = await this.rawEntries(node);
      for (let i = children.length - 1; i >= 0; i--) {
        const { entry, node: child } = children[i] as { entry: RawDirEntry; node: FatNode };
        if (--budget < 0)
          throw new ImageError(
            'CORRUPT_FILESYSTEM',
            'the FAT directory tree has more entries than the volume can hold: it loops',
          );
        const childPath = path === '/' ? `/${entry.name}` : `${path}/${entry.name}`;
        if (child.stat.type === 'directory') {
          if (seenDirs.has(child.cluster)) {
            throw new ImageError(
              'CORRUPT_FILESYSTEM',
              `directory ${childPath} points back to an ancestor (cluster ${child.cluster}): the directory tree loops`,
            );
          }
          seenDirs.add(child.cluster);
        }
        stack.push({ path: childPath, node: child });
      }
    }
  }

  close(): Promise<void> {
    this.runCache.clear();
    this.nodes.clear();
    return Promise.resolve();
  }

  // ---- internals --------------------------------------------------------------------------

  private async own(n: FsNode): Promise<FatNode> {
    if (n instanceof FatNode) return n;
    return (await this.node(n.ino)) as FatNode;
  }

  private makeNode(ino: number, e: RawDirEntry): FatNode {
    const isDir = (e.attr & ATTR_DIRECTORY) !== 0;
    const type: EntryType = isDir ? 'directory' : 'file';
    const mtimeNs = fatTimeNs(e.wrtDate, e.wrtTime);
    const stat: Stat = {
      type,
      mode: isDir ? 0o755 : e.attr & ATTR_READ_ONLY ? 0o444 : 0o644,
      uid: 0,
      gid: 0,
      size: isDir ? 0 : e.size,
      nlink: isDir ? 2 : 1,
      ino,
      atimeNs: fatTimeNs(e.accDate, 0),
      mtimeNs,
      ctimeNs: mtimeNs,
      birthtimeNs: fatTimeNs(e.crtDate, e.crtTime, e.crtTenth),
    };
    const node = new FatNode(ino, stat, e.cluster, false);
    if (this.nodes.size < 100_000) this.nodes.set(ino, node);
    return node;
  }

  /** Entries of a directory with their nodes. Subdirectory clusters are range-checked here. */
  private async rawEntries(dir: FatNode): Promise<{ entry: RawDirEntry; node: FatNode }[]> {
    const { bytes, offsetOf } = await this.directoryBytes(dir);
    const { entries } = parseDirectory(bytes, this.bpb.fatType === 'fat32');
    return entries.map((entry) => {
      if (entry.attr & ATTR_DIRECTORY && (entry.cluster < 2 || entry.cluster > this.fat.maxCluster)) {
        throw new ImageError(
          'CORRUPT_FILESYSTEM',
          `directory entry '${entry.name}' points to cluster ${entry.cluster}, out of range 2..${this.fat.maxCluster}; run fsck.vfat`,
        );
      }
      return { entry, node: this.makeNode(offsetOf(entry.index * 32) / 32, entry) };
    });
  }

  /** A directory's raw bytes and a map from offsets in them to absolute volume offsets. */
  async directoryBytes(dir: FatNode): Promise<{ bytes: Buffer; offsetOf: (off: number) => number }> {
    if (dir.isRoot && this.bpb.fatType !== 'fat32') {
      const base = this.bpb.rootDirOffset;
      return { bytes: await this.source.read(base, this.bpb.rootDirBytes), offsetOf: (off) => base + off };
    }
    const cs = this.bpb.clusterSize;
    const maxClusters = Math.ceil(MAX_DIR_BYTES / cs);
    const runs = this.fat.chain(
      dir.cluster,
      maxClusters + 1,
      dir.isRoot ? 'the root directory' : `directory inode ${dir.ino}`,
      false,
    );
    const clusters = runs.reduce((n, r) => n + r.count, 0);
    if (clusters > maxClusters) {
      throw new ImageError(
        'CORRUPT_FILESYSTEM',
        `directory inode ${dir.ino} is longer than the FAT maximum of 65536 entries; run fsck.vfat`,
      );
    }
    const bytes = await this.readRuns(runs, 0, clusters * cs);
    const offsetOf = (off: number) => {
      let rem = off;
      for (const r of runs) {
        const len = r.count * cs;
        if (rem < len) return this.clusterOffset(r.first) + rem;
        rem -= len;
      }
      throw new ImageError('CORRUPT_FILESYSTEM', `offset ${off} is outside directory inode ${dir.ino}`);
    };
    return { bytes, offsetOf };
  }

  private clusterOffset(cluster: number): number {
    return this.bpb.dataOffset + (cluster - 2) * this.bpb.clusterSize;
  }

  private fileRuns(f: FatNode): ClusterRun[] {
    const cached = this.runCache.get(f.ino);
    if (cached) return cached;
    const cs = this.bpb.clusterSize;
    const needed = Math.ceil(f.stat.size / cs);
    if (needed > this.bpb.clusterCount) {
      throw new ImageError(
        'CORRUPT_FILESYSTEM',
        `file inode ${f.ino} claims ${f.stat.size} bytes, more than the whole volume holds (${this.bpb.clusterCount * cs}); run fsck.vfat`,
      );
    }
    if (f.cluster === 0)
      throw new ImageError(
        'CORRUPT_FILESYSTEM',
        `file inode ${f.ino} has ${f.stat.size} bytes but no first cluster; run fsck.vfat`,
      );
    const runs = this.fat.chain(f.cluster, needed, `file inode ${f.ino}`, true);
    if (this.runCache.size >= RUN_CACHE_LIMIT) this.runCache.clear();
    this.runCache.set(f.ino, runs);
    return runs;
  }

  /** Read `length` bytes starting `position` bytes into the data described by `runs`, coalescing each run into large reads. */
  private async readRuns(runs: ClusterRun[], position: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length);
    const cs = this.bpb.clusterSize;
    let runStart = 0;
    let done = 0;
    for (const r of runs) {
      if (done >= length) break;
      const runLen = r.count * cs;
      const runEnd = runStart + runLen;
      const want = position + done;
      if (want < runEnd) {
        const inRun = want - runStart;
        let n = Math.min(runLen - inRun, length - done);
        let at = this.clusterOffset(r.first) + inRun;
        while (n > 0) {
          const chunk = Math.min(n, MAX_READ);
          const b = await this.source.read(at, chunk);
          b.copy(out, done);
          done += chunk;
          at += chunk;
          n -= chunk;
        }
      }
      runStart = runEnd;
    }
    if (done < length)
      throw new ImageError('CORRUPT_FILESYSTEM', 'FAT cluster chain is shorter than the data requested');
    return out;
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

/** Open a FAT12/16/32 volume. ImageError UNKNOWN_FILESYSTEM if the source does not start with a FAT boot sector. */
export function openFat(source: BlockSource): Promise<FileSystem> {
  return FatFileSystem.open(source);
}

/**
 * Type, label and serial of a FAT volume from its boot sector alone, or undefined when the source
 * does not start with a FAT boot sector. The label is the root directory's volume-label entry, as
 * blkid prefers it (only the first root cluster, or the FAT12/16 root region, is read), else the
 * boot sector's copy.
 */
export async function probeFat(source: BlockSource): Promise<FsProbe | undefined> {
  if (source.size < 512) return undefined;
  let bpb: Bpb;
  try {
    bpb = parseBootSector(await source.read(0, 512));
  } catch {
    return undefined;
  }
  const [offset, length] =
    bpb.fatType === 'fat32'
      ? [bpb.dataOffset + (bpb.rootCluster - 2) * bpb.clusterSize, bpb.clusterSize]
      : [bpb.rootDirOffset, bpb.rootDirBytes];
  const rootLabel = await source
    .read(offset, length)
    .then((bytes) => parseDirectory(bytes, bpb.fatType === 'fat32').volumeLabel)
    .catch(() => undefined);
  const label = rootLabel === undefined || rootLabel === 'NO NAME' ? bpb.bpbLabel : rootLabel;
  return { fsType: bpb.fatType, ...(label !== undefined ? { label } : {}), uuid: bpb.serial };
}

/**
 * FAT timestamps (FAT spec 1.03 section 6.4): local time with no zone, read here as UTC
 * (as Linux does with the default tz=UTC mount). Date: bits 15-9 year since 1980, 8-5 month,
 * 4-0 day. Time: bits 15-11 hours, 10-5 minutes, 4-0 seconds / 2. Creation time adds a
 * fine-resolution byte in 10 ms units (0-199). Invalid dates read as 1980-01-01.
 */
function fatTimeNs(date: number, time: number, tenths = 0): bigint {
  const year = 1980 + (date >> 9);
  let month = (date >> 5) & 0x0f;
  let day = date & 0x1f;
  if (month < 1 || month > 12 || day < 1) {
    month = 1;
    day = 1;
  }
  const h = Math.min(time >> 11, 23);
  const m = Math.min((time >> 5) & 0x3f, 59);
  const s = Math.min((time & 0x1f) * 2, 58);
  const ms = Date.UTC(year, month - 1, day, h, m, s) + Math.min(tenths, 199) * 10;
  return BigInt(ms) * 1_000_000n;
}
