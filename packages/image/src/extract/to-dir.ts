import { linkSync, mkdirSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../errors.js';
import type { FileSystem, FsNode, Stat, Xattr } from '../filesystem.js';
import { BufferPool } from './buffer-pool.js';
import { JobQueue } from './job-queue.js';
import { MetaHelper, type MetaOp } from './meta-helper.js';
import type { ExtractResult } from './options.js';
import type { ProgressTracker } from './progress.js';
import { checkedRelativePath } from './safe-path.js';
import { entriesOf, type ScannedEntry } from './scan.js';
import { CHUNK, creationPolicy, writeFileData } from './write-file.js';

export interface DirWriteOptions {
  /** Apply ownership, devices and every xattr (root). Otherwise skip those parts. */
  privileged: boolean;
  /** Jobs (file contents, symlinks) in flight at once. */
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
 * Materialise a file-system tree under `root` (which must exist and be empty): directories first
 * (walk order, synchronously: children need them), file contents and symlinks as parallel jobs
 * (bounded by `concurrency`), hard links after their first name, then metadata via the helper;
 * directory metadata and times last, so writing children does not disturb them.
 */
export async function writeTree(
  fs: FileSystem,
  root: string,
  opts: DirWriteOptions,
  progress: ProgressTracker,
  scanned?: readonly ScannedEntry[],
): Promise<Omit<ExtractResult, 'format' | 'to' | 'durationMs'>> {
  const counted = counts();
  const helper = new MetaHelper(opts.python);
  const dirOps: MetaOp[] = [];
  const firstPath = new Map<number, string>();
  const links: [string, string][] = [];
  /** File contents and symlinks, written in parallel; the first failure stops the walk. */
  const jobs = new JobQueue(opts.concurrency);
  const owner = creationPolicy(root, opts.privileged);
  /** One CHUNK buffer per file job in flight (jobs ≤ concurrency), reused: bounded by concurrency × CHUNK. */
  const buffers = new BufferPool(CHUNK, opts.concurrency);

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
    for await (const { path, node, ranges } of entriesOf(fs, scanned)) {
      progress.check();
      if (jobs.failure) throw jobs.failure;
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
          await jobs.run(async () => {
            await writeFileData(fs, node, dest, owner, progress, buffers, ranges);
            await helper.send(op);
          });
          break;
        }
        case 'symlink': {
          const target = await fs.readlink(node);
          const op = await metaOf(dest, node, s);
          counted.symlinks++;
          await jobs.run(async () => {
            await symlink(target, dest);
            await helper.send(op);
          });
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
    await jobs.drain();
    if (jobs.failure) throw jobs.failure;
    for (const [target, name] of links) linkSync(target, name);
    // Directory metadata last (deepest first is not needed: utime on a child does not touch its parent).
    for (const op of dirOps) await helper.send(op);
    await helper.finish();
  } catch (e) {
    helper.kill();
    await jobs.drain();
    if (e instanceof ImageError) throw e;
    throw new ImageError('IO', `extraction failed: ${(e as Error).message}`, { cause: e });
  }
  const { ownership, skippedDevices, xattrs, ...rest } = counted;
  return { ...rest, skipped: { ownership, devices: skippedDevices, xattrs, sockets: 0 } };
}
