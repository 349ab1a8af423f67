/**
 * `fsHandler(root)`: serve a directory, confined to its root.
 *
 * Name handling (as Pi, PXE and Windows clients send names): backslashes become `/`, a leading `/`
 * means root-relative, empty and `.` components are skipped, any `..` component or NUL byte is refused
 * (ERROR 2). The real path (symlinks resolved) must equal the real root or lie under it when compared
 * by whole path components. Only regular files are served (devices, FIFOs, directories: ERROR 2);
 * missing files answer ERROR 1 at once; unreadable files ERROR 2.
 */
import { constants } from 'node:fs';
import { type FileHandle, open, realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import { z } from 'zod';
import { accessDenied, notFound, TftpConfigError, TftpRequestError } from './errors.js';
import { bufferSource, type ReadSource } from './source.js';
import type { ReadHandler, RequestContext } from './types.js';

export const FsHandlerOptionsSchema = z.object({
  /** Total bytes of small files kept in memory and shared by concurrent transfers (0 disables). */
  cacheBytes: z
    .number()
    .int()
    .min(0)
    .default(64 * 1024 * 1024),
  /** Largest file that is cached. */
  cacheFileMax: z
    .number()
    .int()
    .min(0)
    .default(16 * 1024 * 1024),
});
export type FsHandlerOptions = z.input<typeof FsHandlerOptionsSchema>;

/**
 * Split a requested name into safe path components, or throw ERROR 2.
 * Exported for tests and for other handlers that want the same rules.
 */
export function safeComponents(name: string): string[] {
  if (name.includes('\0')) throw accessDenied('NUL byte in file name');
  const parts = name.replace(/\\/g, '/').split('/');
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw accessDenied('".." is not allowed in file names');
    out.push(p);
  }
  if (out.length === 0) throw accessDenied('empty file name');
  return out;
}

function isInside(real: string, root: string): boolean {
  if (real === root) return true;
  const prefix = root.endsWith(sep) ? root : root + sep;
  return real.startsWith(prefix);
}

interface CacheEntry {
  data: Buffer;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

function fdSource(fh: FileHandle, size: number): ReadSource {
  return {
    size,
    fd: fh.fd,
    async read(target, offset, length, position) {
      const { bytesRead } = await fh.read(target, offset, length, position);
      return bytesRead;
    },
    close: () => fh.close(),
  };
}

/** A read handler serving files under `root`. */
export function fsHandler(root: string, options: FsHandlerOptions = {}): ReadHandler {
  const parsed = FsHandlerOptionsSchema.safeParse(options);
  if (!parsed.success) throw new TftpConfigError(`fsHandler options: ${parsed.error.message}`);
  const { cacheBytes, cacheFileMax } = parsed.data;
  let realRoot: Promise<string> | undefined;
  const cache = new Map<string, CacheEntry>(); // insertion order = LRU order
  let cached = 0;
  const loading = new Map<string, Promise<Buffer>>();

  const remember = (key: string, e: CacheEntry) => {
    const old = cache.get(key);
    if (old) {
      cache.delete(key);
      cached -= old.data.length;
    }
    for (const [k, v] of cache) {
      if (cached + e.data.length <= cacheBytes) break;
      cache.delete(k);
      cached -= v.data.length;
    }
    if (cached + e.data.length <= cacheBytes) {
      cache.set(key, e);
      cached += e.data.length;
    }
  };

  return async (req: RequestContext) => {
    const comps = safeComponents(req.file);
    realRoot ??= realpath(root);
    const rootReal = await realRoot;
    const wanted = [rootReal, ...comps].join(sep);
    let real: string;
    try {
      real = await realpath(wanted);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES') throw accessDenied('Permission denied');
      throw notFound();
    }
    if (!isInside(real, rootReal)) throw accessDenied('Path escapes the TFTP root');
    let fh: FileHandle;
    try {
      // O_NONBLOCK: opening a FIFO must not hang the server; O_NOFOLLOW: `real` has no symlinks left.
      fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw notFound();
      throw accessDenied(code === 'EACCES' ? 'Permission denied' : `Cannot open file (${code ?? 'error'})`);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw accessDenied('Not a regular file');
      if (cacheBytes > 0 && st.size <= cacheFileMax) {
        const key = `${st.dev}:${st.ino}`;
        const hit = cache.get(key);
        if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ctimeMs === st.ctimeMs) {
          cache.delete(key);
          cache.set(key, hit);
          await fh.close();
          return bufferSource(hit.data);
        }
        let p = loading.get(key);
        if (!p) {
          const buf = Buffer.allocUnsafe(st.size);
          p = (async () => {
            let got = 0;
            while (got < st.size) {
              const { bytesRead } = await fh.read(buf, got, st.size - got, got);
              if (bytesRead === 0) break;
              got += bytesRead;
            }
            const data = got === st.size ? buf : buf.subarray(0, got);
            remember(key, { data, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
            return data;
          })();
          loading.set(key, p);
          p.finally(() => loading.delete(key)).catch(() => {});
        }
        const data = await p;
        await fh.close();
        return bufferSource(data);
      }
      return fdSource(fh, st.size);
    } catch (e) {
      await fh.close().catch(() => {});
      if (e instanceof TftpRequestError) throw e;
      throw accessDenied('Cannot read file');
    }
  };
}
