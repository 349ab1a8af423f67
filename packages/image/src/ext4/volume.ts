import { Readable } from 'node:stream';
import type { Logger } from '@bramble/logger';
import type { BlockSource } from '../block-source.js';
import { ImageError } from '../errors.js';
import type { DataRange, DirEntry, FileSystem, FsNode, Xattr } from '../filesystem.js';
import { BlockCache } from './block-cache.js';
import { mapBlockMap } from './block-map.js';
import { type DirParseOptions, parseDirEntries, type RawDirEntry, verifyDirBlock } from './dir.js';
import { assertDisjoint, type BlockRun, type MapContext, mapExtents } from './extents.js';
import { BG_INODE_UNINIT, type GroupDesc } from './group-desc.js';
import { type Inode, InodeFlag, inodeCsumSeed, parseInode } from './inode.js';
import { ReadWindow } from './read-window.js';
import { formatUuid, Incompat, RoCompat, type Superblock } from './superblock.js';
import { parseInodeXattrs, parseXattrBlock, type RawXattr, toLinuxXattrs } from './xattr.js';

export const ROOT_INO = 2;
const READ_CHUNK = 1024 * 1024;
/** Data read-ahead: window size, and the windows kept (bounded: (16 + 4 spare) × 256 KiB = 5 MiB). */
const DATA_WINDOW = 256 * 1024;
const DATA_WINDOWS = 16;
/** Reads up to this size go through the data window; larger ones are sequential already. */
const SMALL_READ = 64 * 1024;
const MAX_SYMLINK = 65536;
const MAX_PATH_DEPTH = 4096;

/** Blocks in use: the block count less the smaller of the two free counts (superblock, sum of groups). */
function usedBlocks(sb: Superblock, groups: readonly GroupDesc[]): number {
  const groupFree = groups.reduce((sum, g) => sum + g.freeBlocks, 0);
  const free = Math.min(sb.freeBlocksCount, groupFree);
  return Math.max(0, sb.blocksCount - free);
}

/** A resolved ext4 inode; the FsNode handed out by Ext4FileSystem. */
export class Ext4Node implements FsNode {
  constructor(readonly inode: Inode) {}
  get ino(): number {
    return this.inode.ino;
  }
  get stat() {
    return this.inode.stat;
  }
}

export interface Ext4Options {
  verifyChecksums: boolean;
  logger: Logger | undefined;
}

/** Read-only ext2/3/4 file system over a BlockSource. Construct with `openExt4`. */
export class Ext4FileSystem implements FileSystem {
  readonly kind = 'ext4' as const;
  readonly label: string | undefined;
  readonly uuid: string | undefined;
  /**
   * Bytes in use: blocks not free per the group descriptors or the superblock, whichever counts
   * more in use (a stale counter never makes a consistent file system look fuller than it is).
   */
  readonly usedBytes: number;
  private readonly cache: BlockCache;
  /** Read-ahead window for small file data (see readData). */
  private readonly dataWindow: ReadWindow;
  private readonly maps = new Map<number, Promise<BlockRun[]>>();
  private readonly verify: boolean;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly source: BlockSource,
    readonly superblock: Superblock,
    private readonly groups: GroupDesc[],
    opts: Ext4Options,
  ) {
    this.label = superblock.volumeName || undefined;
    this.uuid = formatUuid(superblock.uuid);
    this.usedBytes = usedBlocks(superblock, groups) * superblock.blockSize;
    this.cache = new BlockCache(source, Math.max(65536, superblock.blockSize));
    this.dataWindow = new ReadWindow(source, DATA_WINDOW, DATA_WINDOWS);
    this.verify = opts.verifyChecksums && superblock.metadataCsum;
    this.logger = opts.logger;
  }

  private readBlock = (block: number): Promise<Buffer> => {
    const bs = this.superblock.blockSize;
    if (block >= this.superblock.blocksCount) {
      return Promise.reject(
        new ImageError('CORRUPT_FILESYSTEM', `block ${block} is outside the file system`),
      );
    }
    return this.cache.read(block * bs, bs);
  };

  /** Read and decode inode `ino` (inodes.rst "Finding an Inode"). */
  async readInode(ino: number): Promise<Inode> {
    const sb = this.superblock;
    if (!Number.isInteger(ino) || ino < 1 || ino > sb.inodesCount) {
      throw new ImageError(
        'CORRUPT_FILESYSTEM',
        `inode number ${ino} is out of range (1..${sb.inodesCount})`,
      );
    }
    const group = Math.floor((ino - 1) / sb.inodesPerGroup);
    const index = (ino - 1) % sb.inodesPerGroup;
    const gd = this.groups[group];
    if (!gd)
      throw new ImageError('CORRUPT_FILESYSTEM', `inode ${ino} is in group ${group}, which does not exist`);
    const csummed = (sb.featureRoCompat & (RoCompat.GDT_CSUM | RoCompat.METADATA_CSUM)) !== 0;
    if (csummed && gd.flags & BG_INODE_UNINIT) {
      throw new ImageError(
        'CORRUPT_FILESYSTEM',
        `inode ${ino} is referenced but its group ${group} has no initialised inodes`,
      );
    }
    const pos = gd.inodeTable * sb.blockSize + index * sb.inodeSize;
    if (pos + sb.inodeSize > this.source.size) {
      throw new ImageError(
        'TRUNCATED',
        `inode ${ino} lies past the end of the partition: the image is truncated`,
      );
    }
    const raw = await this.cache.read(pos, sb.inodeSize);
    return parseInode(sb, ino, raw, this.verify);
  }

  private async toNode(n: FsNode): Promise<Ext4Node> {
    if (n instanceof Ext4Node) return n;
    return new Ext4Node(await this.readInode(n.ino));
  }

  async node(ino: number): Promise<Ext4Node> {
    return new Ext4Node(await this.readInode(ino));
  }

  private csumSeedOf(inode: Inode): number | undefined {
    return this.verify ? inodeCsumSeed(this.superblock, inode.ino, inode.generation) : undefined;
  }

  /** Logical → physical block runs of an inode (extent tree or block map). Memoised for a few inodes. */
  private runs(inode: Inode): Promise<BlockRun[]> {
    const hit = this.maps.get(inode.ino);
    if (hit) return hit;
    const ctx: MapContext = {
      ino: inode.ino,
      blockSize: this.superblock.blockSize,
      blocksCount: this.superblock.blocksCount,
      readBlock: this.readBlock,
      csumSeed: this.csumSeedOf(inode),
    };
    const fileBlocks = Math.ceil(inode.stat.size / this.superblock.blockSize);
    const mapped =
      inode.flags & InodeFlag.EXTENTS
        ? mapExtents(inode.iblock, ctx)
        : mapBlockMap(inode.iblock, Math.min(fileBlocks, this.superblock.blocksCount), ctx);
    const p = mapped.then((runs) => {
      assertDisjoint(runs, inode.ino);
      return runs;
    });
    this.maps.set(inode.ino, p);
    p.catch(() => this.maps.delete(inode.ino));
    if (this.maps.size > 64) {
      const first = this.maps.keys().next().value;
      if (first !== undefined) this.maps.delete(first);
    }
    return p;
  }

  private async rawXattrs(inode: Inode): Promise<RawXattr[]> {
    const out = parseInodeXattrs(inode.inlineXattrs, inode.ino);
    if (inode.fileAcl !== 0) {
      if (inode.fileAcl >= this.superblock.blocksCount) {
        throw new ImageError(
          'CORRUPT_FILESYSTEM',
          `inode ${inode.ino}: xattr block ${inode.fileAcl} is outside the file system`,
        );
      }
      const block = await this.readBlock(inode.fileAcl);
      out.push(
        ...parseXattrBlock(
          block,
          inode.fileAcl,
          inode.ino,
          this.verify ? this.superblock.csumSeed : undefined,
        ),
      );
    }
    return out;
  }

  /** Inline data (inlinedata.rst): i_block's 60 bytes, then the system.data xattr value. */
  private async inlineData(inode: Inode): Promise<Buffer> {
    const extra = parseInodeXattrs(inode.inlineXattrs, inode.ino).find(
      (x) => x.index === 7 && x.name === 'data',
    );
    return extra ? Buffer.concat([inode.iblock, extra.value]) : inode.iblock;
  }

  private isInline(inode: Inode): boolean {
    return (
      (inode.flags & InodeFlag.INLINE_DATA) !== 0 &&
      (this.superblock.featureIncompat & Incompat.INLINE_DATA) !== 0
    );
  }

  private dirOpts(inode: Inode): DirParseOptions {
    return {
      ino: inode.ino,
      blockSize: this.superblock.blockSize,
      inodesCount: this.superblock.inodesCount,
      hasFileType: (this.superblock.featureIncompat & Incompat.FILETYPE) !== 0,
      csumSeed: this.csumSeedOf(inode),
    };
  }

  async readdir(dir: FsNode): Promise<DirEntry[]> {
    const node = await this.toNode(dir);
    const inode = node.inode;
    if (inode.stat.type !== 'directory')
      throw new ImageError('NOT_A_DIRECTORY', `inode ${inode.ino} is not a directory`);
    const parseOptions = this.dirOpts(inode);
    const raw: RawDirEntry[] = [];
    if (this.isInline(inode)) {
      // First 4 bytes: parent inode; then entries in the rest of i_block and in system.data.
      const data = await this.inlineData(inode);
      parseDirEntries(data.subarray(4, 60), { ...parseOptions, blockSize: 56 }, raw, 'inline i_block');
      if (data.length > 60)
        parseDirEntries(
          data.subarray(60),
          { ...parseOptions, blockSize: data.length - 60 },
          raw,
          'inline system.data',
        );
    } else {
      const bs = this.superblock.blockSize;
      const total = Math.ceil(inode.stat.size / bs);
      for (const r of await this.runs(inode)) {
        if (r.uninit) continue;
        for (let b = 0; b < r.length && r.logical + b < total; ) {
          const n = Math.min(r.length - b, total - r.logical - b, READ_CHUNK / bs);
          const buf = await this.source.read((r.physical + b) * bs, n * bs);
          for (let i = 0; i < n; i++) {
            const blk = buf.subarray(i * bs, (i + 1) * bs);
            verifyDirBlock(blk, parseOptions, r.logical + b + i);
            parseDirEntries(blk, parseOptions, raw, `block ${r.logical + b + i}`);
          }
          b += n;
        }
      }
    }
    const out: DirEntry[] = [];
    for (const e of raw) {
      if (e.lossy) {
        this.logger?.warn(
          { dir: inode.ino, ino: e.ino, name: e.name },
          'file name is not valid UTF-8; it is decoded with replacement characters',
        );
      }
      const type = e.type ?? (await this.readInode(e.ino)).stat.type;
      out.push({ name: e.name, ino: e.ino, type });
    }
    return out;
  }

  async readlink(link: FsNode): Promise<string> {
    return (await this.readlinkBytes(link)).toString('utf8');
  }

  /** Symlink target bytes, verbatim. Fast symlinks live in i_block (ext4_inode_is_fast_symlink). */
  async readlinkBytes(link: FsNode): Promise<Buffer> {
    const node = await this.toNode(link);
    const inode = node.inode;
    if (inode.stat.type !== 'symlink')
      throw new ImageError('NOT_A_SYMLINK', `inode ${inode.ino} is not a symbolic link`);
    const size = inode.stat.size;
    if (size > MAX_SYMLINK)
      throw new ImageError('CORRUPT_FILESYSTEM', `symlink inode ${inode.ino} has an impossible size ${size}`);
    if (this.isInline(inode)) return (await this.inlineData(inode)).subarray(0, size);
    const eaBlocks = inode.fileAcl !== 0 ? this.superblock.blockSize / 512 : 0;
    const fast = inode.flags & InodeFlag.EA_INODE ? size < 60 : inode.blocks512 - eaBlocks === 0;
    if (fast) {
      if (size > 60)
        throw new ImageError('CORRUPT_FILESYSTEM', `fast symlink inode ${inode.ino} claims ${size} bytes`);
      return Buffer.from(inode.iblock.subarray(0, size));
    }
    return this.read(node, 0, size);
  }

  async read(file: FsNode, position: number, length: number): Promise<Buffer> {
    const node = await this.toNode(file);
    const [start, end] = this.clamp(node.inode, position, length);
    if (end === start) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(end - start);
    await this.fill(node.inode, start, out);
    return out;
  }

  /** `read` into the caller's buffer (reused by extraction); returns the bytes filled. */
  async readInto(file: FsNode, position: number, target: Buffer): Promise<number> {
    const node = await this.toNode(file);
    const [start, end] = this.clamp(node.inode, position, target.length);
    if (end > start) await this.fill(node.inode, start, target.subarray(0, end - start));
    return end - start;
  }

  /** [start, end) of a read, clamped to the file size; directories are refused. */
  private clamp(inode: Inode, position: number, length: number): [number, number] {
    if (inode.stat.type === 'directory')
      throw new ImageError('IS_A_DIRECTORY', `inode ${inode.ino} is a directory`);
    const size = inode.stat.size;
    const start = Math.max(0, Math.min(position, size));
    return [start, Math.max(start, Math.min(size, position + length))];
  }

  /** Fill `out` with the file bytes from `start` (within the file); holes and unwritten extents read as zeros. */
  private async fill(inode: Inode, start: number, out: Buffer): Promise<void> {
    const end = start + out.length;
    if (this.isInline(inode)) {
      const data = await this.inlineData(inode);
      out.fill(0);
      data.copy(out, 0, start, Math.min(end, data.length));
      return;
    }
    const bs = this.superblock.blockSize;
    const runs = await this.runs(inode);
    const firstBlock = Math.floor(start / bs);
    const lastBlock = Math.ceil(end / bs);
    // Fast path: one initialised run covers the whole range.
    for (const r of runs) {
      if (r.logical <= firstBlock && r.logical + r.length >= lastBlock && !r.uninit) {
        const pos = (r.physical + firstBlock - r.logical) * bs + (start - firstBlock * bs);
        return this.readData(pos, out);
      }
      if (r.logical > firstBlock) break;
    }
    out.fill(0);
    for (const r of runs) {
      if (r.uninit) continue;
      const rs = r.logical * bs;
      const re = (r.logical + r.length) * bs;
      const s = Math.max(rs, start);
      const e = Math.min(re, end);
      if (s >= e) continue;
      await this.readSource(out.subarray(s - start, e - start), r.physical * bs + (s - rs));
    }
  }

  /**
   * File data at an image offset. Small reads go through a window of large sequential reads:
   * file systems written in one go (mkfs -d, an OS build) lay small files out one after another,
   * so one 256 KiB read serves dozens of them instead of one read each. Large reads go direct.
   */
  private readData(position: number, target: Buffer): Promise<void> {
    if (target.length > SMALL_READ) return this.readSource(target, position);
    return this.dataWindow.readInto(target, position);
  }

  private async readSource(target: Buffer, position: number): Promise<void> {
    if (this.source.readInto) await this.source.readInto(target, position);
    else (await this.source.read(position, target.length)).copy(target);
  }

  createReadStream(file: FsNode): Readable {
    const self = this;
    async function* gen(): AsyncGenerator<Buffer> {
      const node = await self.toNode(file);
      const size = node.stat.size;
      for (let pos = 0; pos < size; pos += READ_CHUNK) yield await self.read(node, pos, READ_CHUNK);
    }
    return Readable.from(gen(), { objectMode: false });
  }

  async dataRanges(file: FsNode): Promise<DataRange[]> {
    const node = await this.toNode(file);
    const inode = node.inode;
    const size = inode.stat.size;
    if (size === 0) return [];
    if (this.isInline(inode)) return [{ offset: 0, length: size }];
    const bs = this.superblock.blockSize;
    const out: DataRange[] = [];
    for (const r of await this.runs(inode)) {
      if (r.uninit) continue;
      const offset = r.logical * bs;
      if (offset >= size) break;
      const length = Math.min((r.logical + r.length) * bs, size) - offset;
      const prev = out[out.length - 1];
      if (prev && prev.offset + prev.length === offset) prev.length += length;
      else out.push({ offset, length });
    }
    return out;
  }

  async xattrs(n: FsNode): Promise<Xattr[]> {
    const node = await this.toNode(n);
    return toLinuxXattrs(await this.rawXattrs(node.inode));
  }

  async lookup(path: string): Promise<Ext4Node> {
    let cur = await this.node(ROOT_INO);
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.length > MAX_PATH_DEPTH) throw new ImageError('NOT_FOUND', `path ${path} is too deep`);
    const stack: Ext4Node[] = [];
    for (const part of parts) {
      if (part === '..') {
        cur = stack.pop() ?? cur;
        continue;
      }
      if (cur.stat.type !== 'directory')
        throw new ImageError('NOT_A_DIRECTORY', `${path}: a component is not a directory`);
      const entry = (await this.readdir(cur)).find((e) => e.name === part);
      if (!entry) throw new ImageError('NOT_FOUND', `${path} does not exist in the ext4 file system`);
      stack.push(cur);
      cur = await this.node(entry.ino);
    }
    return cur;
  }

  async *walk(start = '/'): AsyncGenerator<{ path: string; node: FsNode }> {
    const root = await this.lookup(start);
    const base = start === '/' ? '' : `/${start.split('/').filter(Boolean).join('/')}`;
    yield { path: base || '/', node: root };
    if (root.stat.type !== 'directory') return;
    const stack: { path: string; ino: number }[] = [];
    const pushChildren = async (dir: Ext4Node, dirPath: string): Promise<void> => {
      const entries = await this.readdir(dir);
      for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i] as DirEntry;
        stack.push({ path: `${dirPath}/${e.name}`, ino: e.ino });
      }
    };
    await pushChildren(root, base);
    const dirsSeen = new Set<number>([root.ino]);
    while (stack.length > 0) {
      const item = stack.pop() as { path: string; ino: number };
      const node = await this.node(item.ino);
      yield { path: item.path, node };
      if (node.stat.type === 'directory') {
        if (dirsSeen.has(node.ino)) {
          throw new ImageError(
            'CORRUPT_FILESYSTEM',
            `directory inode ${node.ino} appears twice in the tree (directory loop at ${item.path})`,
          );
        }
        dirsSeen.add(node.ino);
        await pushChildren(node, item.path);
      }
    }
  }

  async close(): Promise<void> {
    this.maps.clear();
  }
}
