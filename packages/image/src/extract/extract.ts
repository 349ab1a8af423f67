import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ImageError } from '../errors.js';
import type { FileSystem } from '../filesystem.js';
import { commitDestination, discardPartial, prepareDestination } from './destination.js';
import { ExtractOptions, type ExtractResult } from './options.js';
import { ProgressTracker } from './progress.js';
import { type ExtractSource, resolveFileSystem } from './resolve.js';
import { writeTree } from './to-dir.js';
import { writeTar } from './to-tar.js';
import { countTotals } from './totals.js';

/** Node errors (ENOENT for a missing parent directory, ENOSPC, EACCES...) become ImageError('IO'). */
function asImageError(e: unknown, to: string): ImageError {
  if (e instanceof ImageError) return e;
  const err = e as NodeJS.ErrnoException;
  return new ImageError('IO', `extraction to ${to} failed: ${err?.message ?? String(e)}`, { cause: e });
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Extract one partition's file system to a directory (`format: 'dir'`, the default) or a POSIX
 * pax archive (`format: 'tar'`), with contents, holes, modes, numeric owners, ns times, links,
 * devices, fifos, sockets and xattrs. Writes `<to>.partial` and renames it on success; removes it
 * on failure or cancellation. Without root, directory extraction fails with NEEDS_ROOT unless
 * `allowNonRoot` (which skips ownership, device nodes and security.* / trusted.* xattrs).
 */
export async function extract(image: ExtractSource, options: ExtractOptions): Promise<ExtractResult> {
  const parsed = ExtractOptions.safeParse(options);
  if (!parsed.success) {
    throw new ImageError('INVALID_OPTIONS', `invalid extract options: ${parsed.error.message}`);
  }
  const o = parsed.data;
  const format = o.format ?? 'dir';
  const started = performance.now();
  const privileged = isRoot();
  if (format === 'dir' && !privileged && !o.allowNonRoot) {
    throw new ImageError(
      'NEEDS_ROOT',
      'extracting a tree with its ownership, device nodes and security.* xattrs needs root: run as root, pass allowNonRoot: true to skip those parts (the tree will differ from the image), or use format: "tar" to write a lossless archive without root',
    );
  }
  const progress = new ProgressTracker(o.onProgress, o.signal);
  progress.check();
  const partial = await prepareDestination(o.to, o.overwrite ?? false).catch((e: unknown) => {
    throw asImageError(e, o.to);
  });
  // Compressed images are decompressed once into a sparse temporary file next to the output.
  const { fs, release } = await resolveFileSystem(image, o.partition, o.allowDirty ?? false, {
    tmpDir: dirname(o.to),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  try {
    await countTotals(fs, progress);
    o.logger?.debug(
      { files: progress.totalFiles, bytes: progress.totalBytes, format, to: o.to },
      'extracting',
    );
    let counts: Omit<ExtractResult, 'format' | 'to' | 'durationMs'>;
    if (format === 'dir') {
      await mkdir(partial, { mode: 0o700 });
      counts = await writeTree(fs, partial, { privileged, concurrency: o.concurrency ?? 4 }, progress);
    } else {
      const fh = await open(partial, 'wx', 0o644);
      try {
        counts = await writeTar(fs as FileSystem, fh, progress);
      } finally {
        await fh.close();
      }
    }
    progress.check();
    await commitDestination(partial, o.to);
    progress.emit('finish', true);
    const result: ExtractResult = { format, to: o.to, ...counts, durationMs: performance.now() - started };
    o.logger?.info({ ...result }, 'extracted file system');
    return result;
  } catch (e) {
    o.logger?.warn({ err: e, to: o.to }, 'extraction failed; partial output removed');
    await discardPartial(partial);
    throw asImageError(e, o.to);
  } finally {
    await release();
  }
}
