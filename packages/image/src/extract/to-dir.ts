import {
  closeSync,
  fchmodSync,
  fchownSync,
  ftruncateSync,
  linkSync,
  mkdirSync,
  openSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { ImageError } from '../errors.js';
import type { FileSystem, FsNode, Stat, Xattr } from '../filesystem.js';
import { MetaHelper, type MetaOp } from './meta-helper.js';
import type { ExtractResult } from './options.js';
import type { ProgressTracker } from './progress.js';
import { checkedRelativePath } from './safe-path.js';

const CHUNK = 1024 * 1024;

export interface DirWriteOptions {
  /** Apply ownership, devices and every xattr (root). Otherwise skip those parts. */
  privileged: boolean;
  concurrency: number;
  /** The python3 that applies what Node cannot (requirePython). */
  python: string;
}

function counts(): Omit<ExtractResult['skipped'], 'devices' | 'sockets'> &
  Omit<ExtractResult, 'format' | 'to' | 'skipped' | 'durationMs'> & { skippedDevices: number } {
  return {
    entries: 0,
    files: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    devices: 0,
    fifos: 0,
    sockets: 0,
    bytes: 0,
    ownership: false,
    xattrs: 0,
    skippedDevices: 0,
  };
}

/** Privileged xattr namespaces a non-root process cannot set. */
function needsRoot(x: Xattr): boolean {
  return x.name.startsWith('security.') || x.name.startsWith('trusted.');
}

/**
 * Copy one regular file's data ranges (holes stay holes), then size it with ftruncate. Image reads
 * are async; local writes are synchronous on purpose: they land in the page cache in microseconds,
 * and a thread-pool round trip per open/write/close costs more than the write itself.
 */
async function writeFileData(
  fs: FileSystem,
  node: FsNode,
  dest: string,
  privileged: boolean,
  progress: ProgressTracker,
): Promise<void> {
  const ranges = await fs.dataRanges(node);
  const size = node.stat.size;
  // Small contiguous file: one read before opening, so no descriptor is held across an await.
  const whole = ranges.length === 1 && ranges[0]?.offset === 0 && ranges[0].length === size && size <= CHUNK;
  const first = whole ? await fs.read(node, 0, size) : undefined;
  const fd = openSync(dest, 'wx', 0o600);
  try {
    let end = 0;
    if (first) {
      progress.countBytes(first.length);
      writeAll(fd, first, 0);
      end = first.length;
    } else {
      for (const r of ranges) {
        for (let off = r.offset; off < r.offset + r.length; off += CHUNK) {
          progress.check();
          const buf = await fs.read(node, off, Math.min(CHUNK, r.offset + r.length - off));
          progress.countBytes(buf.length);
          writeAll(fd, buf, off);
          end = off + buf.length;
        }
      }
    }
    if (end !== size) ftruncateSync(fd, size);
    // Owner, then mode (chown clears setuid/setgid), on the open descriptor: no path lookups.
    if (privileged) fchownSync(fd, node.stat.uid, node.stat.gid);
    fchmodSync(fd, node.stat.mode);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

/**
 * Materialise a file-system tree under `root` (which must exist and be empty): directories first
 * (walk order), file contents in parallel, hard links after their first name, then metadata via
 * the helper; directory metadata and times last, so writing children does not disturb them.
 */
export async function writeTree(
  fs: FileSystem,
  root: string,
  opts: DirWriteOptions,
  progress: ProgressTracker,
): Promise<Omit<ExtractResult, 'format' | 'to' | 'durationMs'>> {
  const counted = counts();
  const helper = new MetaHelper(opts.python);
  const dirOps: MetaOp[] = [];
  const firstPath = new Map<number, string>();
  const links: [string, string][] = [];
  const inflight = new Set<Promise<void>>();
  let failure: unknown;

  const metaOf = async (dest: string, node: FsNode, s: Stat): Promise<MetaOp> => {
    const op: MetaOp = {
      path: dest,
      kind: s.type,
      mode: s.mode,
      atimeNs: s.atimeNs.toString(),
      mtimeNs: s.mtimeNs.toString(),
    };
    if (opts.privileged) {
      op.uid = s.uid;
      op.gid = s.gid;
    } else {
      counted.ownership = true;
    }
    const xs = await fs.xattrs(node);
    const keep = opts.privileged ? xs : xs.filter((x) => !needsRoot(x));
    counted.xattrs += xs.length - keep.length;
    if (keep.length > 0) op.xattrs = keep.map((x) => [x.name, x.value.toString('base64')]);
    return op;
  };

  try {
    for await (const { path, node } of fs.walk('/')) {
      progress.check();
      if (failure) throw failure;
      const s = node.stat;
      const isRoot = path === '/';
      const dest = isRoot ? root : join(root, checkedRelativePath(path));
      counted.entries++;
      progress.files++;
      switch (s.type) {
        case 'directory': {
          if (!isRoot) mkdirSync(dest, { mode: 0o700 });
          counted.directories++;
          dirOps.push(await metaOf(dest, node, s));
          break;
        }
        case 'file': {
          const first = s.nlink > 1 ? firstPath.get(s.ino) : undefined;
          if (first !== undefined) {
            links.push([first, dest]);
            counted.hardlinks++;
            break;
          }
          if (s.nlink > 1) firstPath.set(s.ino, dest);
          counted.files++;
          counted.bytes += s.size;
          // owner and mode are set on the descriptor by writeFileData; the helper sets xattrs and ns times
          const { uid: _uid, gid: _gid, mode: _mode, ...op } = await metaOf(dest, node, s);
          const job = writeFileData(fs, node, dest, opts.privileged, progress)
            .then(() => helper.send(op))
            .catch((e: unknown) => {
              failure ??= e;
            });
          inflight.add(job);
          void job.finally(() => inflight.delete(job));
          if (inflight.size >= opts.concurrency) await Promise.race(inflight);
          break;
        }
        case 'symlink': {
          symlinkSync(await fs.readlink(node), dest);
          counted.symlinks++;
          await helper.send(await metaOf(dest, node, s));
          break;
        }
        case 'char':
        case 'block': {
          if (!opts.privileged) {
            counted.skippedDevices++;
            break;
          }
          const op = await metaOf(dest, node, s);
          await helper.send({ ...op, create: true, major: s.rdev?.major ?? 0, minor: s.rdev?.minor ?? 0 });
          counted.devices++;
          break;
        }
        case 'fifo':
        case 'socket': {
          await helper.send({ ...(await metaOf(dest, node, s)), create: true });
          if (s.type === 'fifo') counted.fifos++;
          else counted.sockets++;
          break;
        }
      }
      progress.emit('write');
    }
    await Promise.all(inflight);
    if (failure) throw failure;
    for (const [target, name] of links) linkSync(target, name);
    // Directory metadata last (deepest first is not needed: utime on a child does not touch its parent).
    for (const op of dirOps) await helper.send(op);
    await helper.finish();
  } catch (e) {
    helper.kill();
    await Promise.allSettled(inflight);
    if (e instanceof ImageError) throw e;
    throw new ImageError('IO', `extraction failed: ${(e as Error).message}`, { cause: e });
  }
  const { ownership, skippedDevices, xattrs, ...rest } = counted;
  return { ...rest, skipped: { ownership, devices: skippedDevices, xattrs, sockets: 0 } };
}
