/**
 * `fsWriteHandler(root)`: store WRQ uploads under a directory with the same name rules as `fsHandler`
 * (backslashes, leading `/`, no `..`, no NUL; the real parent directory must be inside the real root).
 * Data goes to a temporary file (O_EXCL, never through a symlink) that is moved into place when the
 * transfer completes — without overwrite by link(2), which fails rather than replace a file that appeared
 * meanwhile — so a failed or aborted upload never leaves a partial file under the final name.
 * With `createDirectories`, missing directories are made one component at a time, each checked to be
 * inside the real root first: a symlinked directory leading outside is refused before anything is made.
 */
import { createWriteStream } from 'node:fs';
import { link, lstat, mkdir, realpath, rename, rm } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { accessDenied, ErrorCode, TftpConfigError, TftpRequestError } from './errors.js';
import { safeComponents } from './fs-handler.js';
import type { RequestContext, WriteHandler } from './types.js';

export const FsWriteHandlerOptionsSchema = z.object({
  /** Replace existing files (default false: ERROR 6 "File already exists"). */
  overwrite: z.boolean().default(false),
  /** Refuse uploads larger than this (announced tsize or actual bytes; ERROR 3). */
  maxBytes: z.number().int().min(0).default(Number.MAX_SAFE_INTEGER),
  /** File mode of new files. */
  mode: z.number().int().min(0).max(0o7777).default(0o644),
  /** Create missing directories of the upload path (inside the root only; default false). */
  createDirectories: z.boolean().default(false),
});
export type FsWriteHandlerOptions = z.input<typeof FsWriteHandlerOptionsSchema>;

export function fsWriteHandler(root: string, options: FsWriteHandlerOptions = {}): WriteHandler {
  const parsed = FsWriteHandlerOptionsSchema.safeParse(options);
  if (!parsed.success) throw new TftpConfigError(`fsWriteHandler options: ${parsed.error.message}`);
  const { overwrite, maxBytes, mode, createDirectories } = parsed.data;
  let realRoot: Promise<string> | undefined;
  return async (req: RequestContext) => {
    const comps = safeComponents(req.file);
    realRoot ??= realpath(root);
    const rootReal = await realRoot;
    const target = join(rootReal, ...comps);
    if (createDirectories) await makeParents(rootReal, comps.slice(0, -1));
    let parent: string;
    try {
      parent = await realpath(dirname(target));
    } catch {
      throw accessDenied('Target directory does not exist');
    }
    if (parent !== rootReal && !parent.startsWith(rootReal + sep))
      throw accessDenied('Path escapes the TFTP root');
    const final = join(parent, comps[comps.length - 1] as string);
    const existing = await lstat(final).catch(() => undefined);
    if (existing && !existing.isFile()) throw accessDenied('Not a regular file');
    if (existing && !overwrite)
      throw new TftpRequestError('FILE_EXISTS', ErrorCode.FILE_EXISTS, 'File already exists');
    if (req.size !== undefined && req.size > maxBytes)
      throw new TftpRequestError('TOO_LARGE', ErrorCode.DISK_FULL, 'Upload exceeds the size limit');
    const tmp = `${final}.tftp-${process.pid}-${Date.now().toString(36)}.part`;
    const out = createWriteStream(tmp, { flags: 'wx', mode });
    let written = 0;
    const w = new Writable({
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        if (written > maxBytes) {
          cb(new TftpRequestError('TOO_LARGE', ErrorCode.DISK_FULL, 'Upload exceeds the size limit'));
          return;
        }
        if (out.write(chunk)) cb();
        else out.once('drain', () => cb());
      },
      final(cb) {
        out.end(() => {
          commit(tmp, final, overwrite).then(
            () => cb(),
            (e: Error) => {
              rm(tmp, { force: true }).catch(() => {});
              cb(e);
            },
          );
        });
      },
      destroy(err, cb) {
        // Remove the temporary file once the file stream is closed: destroyed before its open completed,
        // the stream still creates the file, so an earlier rm would leave it behind.
        const committed = this.writableFinished;
        const cleanup = () => {
          if (!committed) rm(tmp, { force: true }).catch(() => {});
        };
        if (out.closed) cleanup();
        else out.once('close', cleanup);
        out.destroy();
        cb(err);
      },
    });
    // A file-stream error (also one raised by a write still pending when the upload was destroyed) must
    // reach the wrapper, never surface as an unhandled 'error' event.
    out.on('error', (e) => {
      if (!w.destroyed) w.destroy(e);
    });
    return w;
  };
}

/** Move the finished upload into place: rename (overwrite), else link + unlink (fails if it exists). */
async function commit(tmp: string, final: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(tmp, final);
    return;
  }
  try {
    await link(tmp, final);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new TftpRequestError('FILE_EXISTS', ErrorCode.FILE_EXISTS, 'File already exists');
    throw e;
  }
  await rm(tmp, { force: true });
}

/**
 * `mkdir -p` of `dirs` under `rootReal`, one component at a time: an existing component must resolve
 * (symlinks included) to a directory inside the root; a missing one is created only then.
 */
async function makeParents(rootReal: string, dirs: readonly string[]): Promise<void> {
  let current = rootReal;
  for (const name of dirs) {
    const next = join(current, name);
    const st = await lstat(next).catch(() => undefined);
    if (!st) {
      await mkdir(next).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw accessDenied('Cannot create the target directory');
      });
      current = next;
      continue;
    }
    const real = await realpath(next).catch(() => undefined);
    if (real === undefined || (real !== rootReal && !real.startsWith(rootReal + sep)))
      throw accessDenied('Path escapes the TFTP root');
    if (!(await lstat(real)).isDirectory()) throw accessDenied('Not a directory');
    current = real;
  }
}
