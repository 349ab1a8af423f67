/**
 * `fsWriteHandler(root)`: store WRQ uploads under a directory with the same name rules as `fsHandler`
 * (backslashes, leading `/`, no `..`, no NUL; the real parent directory must be inside the real root).
 * Data goes to a temporary file that is renamed into place when the transfer completes, so a failed or
 * aborted upload never leaves a partial file.
 */
import { createWriteStream } from 'node:fs';
import { lstat, realpath, rename, rm } from 'node:fs/promises';
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
});
export type FsWriteHandlerOptions = z.input<typeof FsWriteHandlerOptionsSchema>;

export function fsWriteHandler(root: string, options: FsWriteHandlerOptions = {}): WriteHandler {
  const parsed = FsWriteHandlerOptionsSchema.safeParse(options);
  if (!parsed.success) throw new TftpConfigError(`fsWriteHandler options: ${parsed.error.message}`);
  const { overwrite, maxBytes, mode } = parsed.data;
  let realRoot: Promise<string> | undefined;
  return async (req: RequestContext) => {
    const comps = safeComponents(req.file);
    realRoot ??= realpath(root);
    const rootReal = await realRoot;
    const target = join(rootReal, ...comps);
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
          rename(tmp, final).then(
            () => cb(),
            (e: Error) => cb(e),
          );
        });
      },
      destroy(err, cb) {
        out.destroy();
        if (!this.writableFinished) rm(tmp, { force: true }).catch(() => {});
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
