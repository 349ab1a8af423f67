import type { FileHandle } from 'node:fs/promises';
import { ImageError } from '../errors.js';
import type { DataRange, FileSystem, FsNode, Stat } from '../filesystem.js';
import type { ExtractResult } from './options.js';
import { BLOCK, padding, paxHeader, paxRecord, paxTime, TypeFlag, ustarHeader } from './pax.js';
import type { ProgressTracker } from './progress.js';
import { checkedRelativePath } from './safe-path.js';
import { entriesOf, type ScannedEntry } from './scan.js';

const CHUNK = 1024 * 1024;

/** Buffers small writes into ~1 MiB appends. */
class Sink {
  private parts: Buffer[] = [];
  private size = 0;
  written = 0;
  constructor(private readonly fh: FileHandle) {}
  async push(b: Buffer): Promise<void> {
    this.parts.push(b);
    this.size += b.length;
    if (this.size >= CHUNK) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const buf = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, done, buf.length - done, this.written + done);
      done += bytesWritten;
    }
    this.written += buf.length;
  }
}

const TYPE: Record<string, string> = {
  file: TypeFlag.FILE,
  directory: TypeFlag.DIRECTORY,
  symlink: TypeFlag.SYMLINK,
  char: TypeFlag.CHAR,
  block: TypeFlag.BLOCK,
  fifo: TypeFlag.FIFO,
};

function archiveName(path: string, s: Stat): string {
  if (path === '/') return './';
  const rel = checkedRelativePath(path);
  return s.type === 'directory' ? `${rel}/` : rel;
}

/**
 * Stream the tree as a POSIX pax archive: every entry gets a pax header with path, uid, gid,
 * mtime/atime (ns), linkpath, size and SCHILY.xattr.<name> (binary values intact), then a ustar
 * header; hard links are type 1, devices 3/4 with devmajor/devminor, fifos 6. Sockets cannot be
 * archived (tar has no type for them) and are counted as skipped. Holes are written as zeros.
 */
export async function writeTar(
  fs: FileSystem,
  fh: FileHandle,
  progress: ProgressTracker,
  scanned?: readonly ScannedEntry[],
): Promise<Omit<ExtractResult, 'format' | 'to' | 'durationMs'>> {
  const out = new Sink(fh);
  const first = new Map<number, string>();
  const result: Omit<ExtractResult, 'format' | 'to' | 'durationMs'> = {
    entries: 0,
    files: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    devices: 0,
    fifos: 0,
    sockets: 0,
    bytes: 0,
    skipped: { ownership: false, devices: 0, xattrs: 0, sockets: 0 },
  };
  for await (const { path, node, ranges: scannedRanges } of entriesOf(fs, scanned)) {
    progress.check();
    const s = node.stat;
    progress.files++;
    if (s.type === 'socket') {
      result.skipped.sockets++;
      continue;
    }
    const name = archiveName(path, s);
    let type = TYPE[s.type] as string;
    let linkname: string | undefined;
    let size = 0;
    if (s.type === 'file') {
      const leader = s.nlink > 1 ? first.get(s.ino) : undefined;
      if (leader !== undefined) {
        type = TypeFlag.HARDLINK;
        linkname = leader;
        result.hardlinks++;
      } else {
        if (s.nlink > 1) first.set(s.ino, name);
        size = s.size;
        result.files++;
      }
    } else if (s.type === 'symlink') {
      linkname = await fs.readlink(node);
      result.symlinks++;
    } else if (s.type === 'directory') result.directories++;
    else if (s.type === 'fifo') result.fifos++;
    else result.devices++;
    result.entries++;

    // Files with holes: GNU sparse format 1.0 in pax (GNU tar's sparse.c): a decimal map of the
    // data ranges in front of the data, so `tar -x` recreates the holes.
    let sparse: { map: Buffer; ranges: DataRange[]; dataBytes: number } | undefined;
    if (size > 0) {
      const ranges = scannedRanges ?? (await fs.dataRanges(node));
      const dataBytes = ranges.reduce((a, x) => a + x.length, 0);
      if (dataBytes < size) sparse = { map: sparseMap(ranges, size), ranges, dataBytes };
    }
    const storedName = sparse ? sparseName(name) : name;
    const stored = sparse ? sparse.map.length + sparse.dataBytes : size;
    const recs: Buffer[] = [
      paxRecord('path', storedName),
      paxRecord('uid', String(s.uid)),
      paxRecord('gid', String(s.gid)),
      paxRecord('mtime', paxTime(s.mtimeNs)),
      paxRecord('atime', paxTime(s.atimeNs)),
    ];
    if (linkname !== undefined) recs.push(paxRecord('linkpath', linkname));
    if (stored > 0o77777777777) recs.push(paxRecord('size', String(stored)));
    if (sparse) {
      recs.push(
        paxRecord('GNU.sparse.major', '1'),
        paxRecord('GNU.sparse.minor', '0'),
        paxRecord('GNU.sparse.name', name),
        paxRecord('GNU.sparse.realsize', String(size)),
      );
    }
    if (type !== TypeFlag.HARDLINK) {
      for (const x of await fs.xattrs(node)) recs.push(paxRecord(`SCHILY.xattr.${x.name}`, x.value));
    }
    await out.push(paxHeader(recs, name.split('/').filter(Boolean).pop() ?? 'root'));
    const fields = {
      name: storedName,
      mode: s.mode,
      uid: s.uid,
      gid: s.gid,
      size: stored,
      mtime: Number(s.mtimeNs / 1_000_000_000n),
      type,
      ...(linkname !== undefined ? { linkname } : {}),
      ...(s.rdev ? { devmajor: s.rdev.major, devminor: s.rdev.minor } : {}),
    };
    await out.push(ustarHeader(fields));
    if (sparse) {
      await out.push(sparse.map);
      for (const x of sparse.ranges) await copyData(fs, node, x.offset, x.length, out, progress);
      await out.push(padding(sparse.dataBytes));
    } else if (size > 0) {
      await copyData(fs, node, 0, size, out, progress);
      await out.push(padding(size));
    }
    result.bytes += size;
    progress.emit('write');
  }
  await out.push(Buffer.alloc(BLOCK * 2));
  await out.flush();
  return result;
}

async function copyData(
  fs: FileSystem,
  node: FsNode,
  offset: number,
  length: number,
  out: Sink,
  progress: ProgressTracker,
): Promise<void> {
  for (let pos = offset; pos < offset + length; pos += CHUNK) {
    progress.check();
    const want = Math.min(CHUNK, offset + length - pos);
    const buf = await fs.read(node, pos, want);
    if (buf.length !== want)
      throw new ImageError('CORRUPT_FILESYSTEM', `short read of inode ${node.ino} at ${pos}`);
    progress.countBytes(buf.length);
    await out.push(buf);
  }
}

/** GNU sparse 1.0 map: "count\n" then "offset\nlength\n" per range (a final empty range marks a trailing hole), padded to 512. */
function sparseMap(ranges: DataRange[], size: number): Buffer {
  const entries = ranges.map((x) => [x.offset, x.length] as const);
  const last = ranges[ranges.length - 1];
  if (!last || last.offset + last.length < size) entries.push([size, 0]);
  const text = `${entries.length}\n${entries.map(([o, l]) => `${o}\n${l}\n`).join('')}`;
  const b = Buffer.from(text, 'ascii');
  return Buffer.concat([b, padding(b.length)]);
}

/** The member name GNU tar gives sparse files ("dir/GNUSparseFile.0/name"); the real one is GNU.sparse.name. */
function sparseName(name: string): string {
  const i = name.lastIndexOf('/');
  return i < 0 ? `GNUSparseFile.0/${name}` : `${name.slice(0, i)}/GNUSparseFile.0/${name.slice(i + 1)}`;
}
