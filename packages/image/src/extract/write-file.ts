import {
  close,
  closeSync,
  fchmod,
  fchmodSync,
  fchown,
  fchownSync,
  fstatSync,
  ftruncate,
  ftruncateSync,
  open,
  openSync,
  statSync,
  unlinkSync,
  write,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DataRange, FileSystem, FsNode } from '../filesystem.js';
import type { BufferPool } from './buffer-pool.js';
import type { ProgressTracker } from './progress.js';

/** Largest single image read and local write: bounds a job's buffer (concurrency × CHUNK in all). */
export const CHUNK = 1024 * 1024;

const openFd = promisify(open);
const writeFd = promisify(write);
const truncateFd = promisify(ftruncate);
const chownFd = promisify(fchown);
const chmodFd = promisify(fchmod);
const closeFd = promisify(close);

/** How one file's owner and mode are applied; measured once per tree by `creationPolicy`. */
export interface CreationPolicy {
  /** Apply ownership (root). */
  privileged: boolean;
  /**
   * The owner a new file already has (the process's uid and gid, in a tree with no setgid
   * directory): fchown is skipped when the image's owner is this one. Undefined: always fchown.
   */
  createdAs: { uid: number; gid: number } | undefined;
  /**
   * Permission bits that creation removes (the umask, as observed on a probe file), or undefined
   * when creation does not give exactly `mode & ~umask` (a default ACL): then always fchmod.
   */
  creationMask: number | undefined;
}

const S_ISGID = 0o2000;
const PERMISSIONS = 0o777;

/**
 * Observe, once, what creating a file under `root` does: its owner (fchown can be skipped for
 * files that already have the image's owner) and its mode (fchmod can be skipped for plain modes
 * the umask leaves alone). A probe file is created with mode 0777, inspected and removed.
 */
export function creationPolicy(root: string, privileged: boolean): CreationPolicy {
  const dir = statSync(root);
  const uid = process.geteuid?.();
  const gid = process.getegid?.();
  const plainOwner = (dir.mode & S_ISGID) === 0 && dir.gid === gid && uid !== undefined && gid !== undefined;
  const probe = join(root, '.bramble-create-probe');
  const fd = openSync(probe, 'wx', PERMISSIONS);
  let created: number;
  try {
    created = fstatSync(fd).mode & 0o7777;
  } finally {
    closeSync(fd);
    unlinkSync(probe);
  }
  // A umask only clears permission bits; anything else means: always fchmod.
  const mask = PERMISSIONS & ~created;
  const umaskLike = (created & ~PERMISSIONS) === 0;
  return {
    privileged,
    createdAs: plainOwner ? { uid, gid } : undefined,
    creationMask: umaskLike ? mask : undefined,
  };
}

/**
 * Copy one regular file's data ranges (holes stay holes), size it with ftruncate, then set owner
 * and mode on the open descriptor (owner first: chown clears setuid/setgid). Image reads are
 * asynchronous; a small file (≤ SYNC_MAX) is then written synchronously on this thread, a larger
 * one on libuv's thread pool, so its page-cache copies overlap the parsing and other jobs.
 */
export async function writeFileData(
  fs: FileSystem,
  node: FsNode,
  dest: string,
  policy: CreationPolicy,
  progress: ProgressTracker,
  buffers: BufferPool,
  /** The ranges the scan summed, when it kept them. */
  scannedRanges?: readonly DataRange[],
): Promise<void> {
  const ranges = scannedRanges ?? (await fs.dataRanges(node));
  const { size, uid, gid, mode } = node.stat;
  // One pooled CHUNK-sized buffer per job, given back only after its last write completed.
  const buf = buffers.take();
  try {
    // Small contiguous file: one read before opening, so no descriptor is held across an image read.
    const whole =
      ranges.length === 1 && ranges[0]?.offset === 0 && ranges[0].length === size && size <= CHUNK;
    const first = whole ? await readChunk(fs, node, 0, size, buf) : undefined;
    // A plain mode the umask leaves alone is given at creation; others are set by fchmod below
    // (special bits after fchown, which clears them). The descriptor is writable either way.
    const modeAtCreation =
      policy.creationMask !== undefined && (mode & ~PERMISSIONS) === 0 && (mode & policy.creationMask) === 0;
    if (first && first.length <= SYNC_MAX) {
      progress.countBytes(first.length);
      writeSmallSync(dest, first, size, modeAtCreation ? mode : undefined, node.stat, policy);
      return;
    }
    const fd = await openFd(dest, 'wx', modeAtCreation ? mode : 0o600);
    try {
      let end = 0;
      if (first) {
        progress.countBytes(first.length);
        await writeAll(fd, first, 0);
        end = first.length;
      } else {
        for (const r of ranges) {
          for (let off = r.offset; off < r.offset + r.length; off += CHUNK) {
            progress.check();
            const chunk = await readChunk(fs, node, off, Math.min(CHUNK, r.offset + r.length - off), buf);
            progress.countBytes(chunk.length);
            await writeAll(fd, chunk, off);
            end = off + chunk.length;
          }
        }
      }
      if (end !== size) await truncateFd(fd, size);
      const created = policy.createdAs;
      if (policy.privileged && (created === undefined || created.uid !== uid || created.gid !== gid)) {
        await chownFd(fd, uid, gid);
      }
      if (!modeAtCreation) await chmodFd(fd, mode);
    } finally {
      await closeFd(fd);
    }
  } finally {
    buffers.give(buf);
  }
}

/**
 * Files up to this size are written with synchronous calls on this thread. Handing open, write,
 * fchown and close to the thread pool costs more (a request, a futex wake and a callback each)
 * than the kernel work itself for a small file: measured on the bench tree (18,000 small files,
 * ext4 in RAM, 2 cores), synchronous small files took ~0.4 s less system CPU and ~15% less wall
 * time. The image read before stays asynchronous; large files stay on the pool.
 */
const SYNC_MAX = 64 * 1024;

/** A small file's whole content, owner and mode, synchronously (see SYNC_MAX). */
function writeSmallSync(
  dest: string,
  data: Buffer,
  size: number,
  createMode: number | undefined,
  stat: FsNode['stat'],
  policy: CreationPolicy,
): void {
  const fd = openSync(dest, 'wx', createMode ?? 0o600);
  try {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done, done);
    if (data.length !== size) ftruncateSync(fd, size);
    const created = policy.createdAs;
    if (
      policy.privileged &&
      (created === undefined || created.uid !== stat.uid || created.gid !== stat.gid)
    ) {
      fchownSync(fd, stat.uid, stat.gid);
    }
    if (createMode === undefined) fchmodSync(fd, stat.mode);
  } finally {
    closeSync(fd);
  }
}

/** `length` (≤ CHUNK) file bytes at `position`: into the job's buffer when the file system can, else a fresh one. */
async function readChunk(
  fs: FileSystem,
  node: FsNode,
  position: number,
  length: number,
  buf: Buffer,
): Promise<Buffer> {
  if (!fs.readInto) return fs.read(node, position, length);
  const filled = await fs.readInto(node, position, buf.subarray(0, length));
  return buf.subarray(0, filled);
}

async function writeAll(fd: number, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await writeFd(fd, buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}
