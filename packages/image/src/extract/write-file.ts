import { close, fchmod, fchown, ftruncate, open, write } from 'node:fs';
import { promisify } from 'node:util';
import type { FileSystem, FsNode } from '../filesystem.js';
import type { ProgressTracker } from './progress.js';

/** Largest single image read and local write: bounds a job's buffer (concurrency × CHUNK in all). */
export const CHUNK = 1024 * 1024;

const openFd = promisify(open);
const writeFd = promisify(write);
const truncateFd = promisify(ftruncate);
const chownFd = promisify(fchown);
const chmodFd = promisify(fchmod);
const closeFd = promisify(close);

/** How one file's owner and mode are applied on its descriptor. */
export interface OwnerPolicy {
  /** Apply ownership (root). */
  privileged: boolean;
  /**
   * The owner a new file already has (the process's uid and gid, in a tree with no setgid
   * directory): fchown is skipped when the image's owner is this one. Undefined: always fchown.
   */
  createdAs: { uid: number; gid: number } | undefined;
}

/**
 * Copy one regular file's data ranges (holes stay holes), size it with ftruncate, then set owner
 * and mode on the open descriptor (owner first: chown clears setuid/setgid). Every local call is
 * asynchronous, on libuv's thread pool: file creation and page-cache copies are kernel work that
 * runs on the other cores while this thread parses the image, and several jobs overlap.
 */
export async function writeFileData(
  fs: FileSystem,
  node: FsNode,
  dest: string,
  owner: OwnerPolicy,
  progress: ProgressTracker,
): Promise<void> {
  const ranges = await fs.dataRanges(node);
  const { size, uid, gid, mode } = node.stat;
  // Small contiguous file: one read before opening, so no descriptor is held across an image read.
  const whole = ranges.length === 1 && ranges[0]?.offset === 0 && ranges[0].length === size && size <= CHUNK;
  const first = whole ? await fs.read(node, 0, size) : undefined;
  const fd = await openFd(dest, 'wx', 0o600);
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
          const buf = await fs.read(node, off, Math.min(CHUNK, r.offset + r.length - off));
          progress.countBytes(buf.length);
          await writeAll(fd, buf, off);
          end = off + buf.length;
        }
      }
    }
    if (end !== size) await truncateFd(fd, size);
    const created = owner.createdAs;
    if (owner.privileged && (created === undefined || created.uid !== uid || created.gid !== gid)) {
      await chownFd(fd, uid, gid);
    }
    await chmodFd(fd, mode);
  } finally {
    await closeFd(fd);
  }
}

async function writeAll(fd: number, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await writeFd(fd, buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}
