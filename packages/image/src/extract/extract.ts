import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '@bramble/logger';
import { ImageError } from '../errors.js';
import type { FileSystem } from '../filesystem.js';
import { commit, type Destination, discard, planDestinations, stage } from './destination.js';
import { requirePython } from './meta-helper.js';
import {
  ExtractOptions,
  ExtractPartitionsOptions,
  type ExtractProgress,
  type ExtractResult,
} from './options.js';
import { ProgressTracker } from './progress.js';
import { type ExtractSource, openSource, type PartitionedImage } from './resolve.js';
import { scanTotals } from './scan.js';
import { writeTree } from './to-dir.js';
import { writeTar } from './to-tar.js';

/** Node errors (ENOENT for a missing parent directory, ENOSPC, EACCES...) become ImageError('IO'). */
function asImageError(e: unknown, to: string): ImageError {
  if (e instanceof ImageError) return e;
  const err = e as NodeJS.ErrnoException;
  return new ImageError('IO', `extraction to ${to} failed: ${err?.message ?? String(e)}`, { cause: e });
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

type Counts = Omit<ExtractResult, 'format' | 'to' | 'durationMs'>;

interface Settings {
  format: 'dir' | 'tar';
  allowDirty: boolean;
  overwrite: boolean;
  allowNonRoot: boolean;
  privileged: boolean;
  concurrency: number;
  signal: AbortSignal | undefined;
  onProgress: ((p: ExtractProgress) => void) | undefined;
  logger: Logger | undefined;
}

/**
 * Extract one partition's file system to a directory (`format: 'dir'`, the default) or a POSIX
 * pax archive (`format: 'tar'`), with contents, holes, modes, numeric owners, ns times, links,
 * devices, fifos, sockets and xattrs. See `extractPartitions` for the rules; this is the same
 * with one target (and `image` may also be a FileSystem, then `partition` is not needed).
 */
export async function extract(image: ExtractSource, options: ExtractOptions): Promise<ExtractResult> {
  const parsed = ExtractOptions.safeParse(options);
  if (!parsed.success) {
    throw new ImageError('INVALID_OPTIONS', `invalid extract options: ${parsed.error.message}`);
  }
  const { partition, to, ...rest } = parsed.data;
  const isFs = typeof image === 'object' && 'walk' in image;
  if (!isFs && partition === undefined) {
    throw new ImageError(
      'NO_SUCH_PARTITION',
      'extract needs `partition` (a number or a label) when given a disk image',
    );
  }
  const [result] = await run(image, [{ partition, to }], settingsOf(rest));
  return result as ExtractResult;
}

/**
 * Extract several partitions of one image (a path is opened and decompressed once), each to its
 * destination, committed together: every partition is written into a staging directory
 * `<to>.partial-XXXXXX` beside its destination, and only when all are written are they moved into
 * place. On any failure or abort (`signal` → ImageError ABORTED) the staging directories and the
 * decompressed copy are removed and no destination is touched.
 *
 * Checked before anything is decompressed or written: the destinations (DestinationError:
 * DESTINATION_PROTECTED for `/` and the home directory, DESTINATION_CONFLICT for identical or
 * nested ones, DESTINATION_NOT_EMPTY without `overwrite`, DESTINATION_FOREIGN when `overwrite`
 * meets a directory that is not an earlier extraction), root (NEEDS_ROOT for directories unless
 * `allowNonRoot`) and python3 (MISSING_PROGRAM for directories). Before a partition is written,
 * its file data is summed (holes not counted) and must fit in the bytes its file system has in
 * use (OutputLimitError, OUTPUT_LIMIT): blocks shared between files cannot amplify an image.
 */
export async function extractPartitions(
  image: string | PartitionedImage,
  options: ExtractPartitionsOptions,
): Promise<ExtractResult[]> {
  const parsed = ExtractPartitionsOptions.safeParse(options);
  if (!parsed.success) {
    throw new ImageError('INVALID_OPTIONS', `invalid extract options: ${parsed.error.message}`);
  }
  const { targets, ...rest } = parsed.data;
  return run(image, targets, settingsOf(rest));
}

function settingsOf(options: Omit<ExtractPartitionsOptions, 'targets'>): Settings {
  return {
    format: options.format ?? 'dir',
    allowDirty: options.allowDirty ?? false,
    overwrite: options.overwrite ?? false,
    allowNonRoot: options.allowNonRoot ?? false,
    privileged: isRoot(),
    concurrency: options.concurrency ?? 16,
    signal: options.signal,
    onProgress: options.onProgress,
    logger: options.logger,
  };
}

/**
 * The checks `extractPartitions` makes before it decompresses or writes anything — root
 * (NEEDS_ROOT), python3 (MISSING_PROGRAM) and the destinations (DestinationError) — for callers
 * that must open the image first to choose partitions and want to fail fast. Writes nothing.
 */
export async function checkExtraction(options: {
  targets: readonly { to: string }[];
  format?: 'dir' | 'tar';
  overwrite?: boolean;
  allowNonRoot?: boolean;
}): Promise<void> {
  const settings = settingsOf(options);
  await preflight(
    options.targets.map((t) => t.to),
    settings,
  );
}

/** Root, python3 and destination checks; returns the python3 to use (dir format) and the plan. */
async function preflight(
  targets: readonly string[],
  settings: Settings,
): Promise<{ python: string | undefined; destinations: Destination[] }> {
  const { format } = settings;
  if (format === 'dir' && !settings.privileged && !settings.allowNonRoot) {
    throw new ImageError(
      'NEEDS_ROOT',
      'extracting a tree with its ownership, device nodes and security.* xattrs needs root: run as root, pass allowNonRoot: true to skip those parts (the tree will differ from the image), or use format: "tar" to write a lossless archive without root',
    );
  }
  const python = format === 'dir' ? await requirePython() : undefined;
  const destinations = await planDestinations(
    targets.map((to) => ({ to, format })),
    settings.overwrite,
  ).catch((e: unknown) => {
    throw asImageError(e, targets[0] ?? '');
  });
  return { python, destinations };
}

async function run(
  image: ExtractSource,
  targets: readonly { partition: number | string | undefined; to: string }[],
  settings: Settings,
): Promise<ExtractResult[]> {
  const { format, signal } = settings;
  const { python, destinations } = await preflight(
    targets.map((t) => t.to),
    settings,
  );
  if (signal?.aborted) throw new ImageError('ABORTED', 'extraction was cancelled', { cause: signal.reason });
  const last = destinations[destinations.length - 1] as Destination;
  // Compressed images are decompressed once into a sparse temporary file next to the output.
  await mkdir(dirname(last.to), { recursive: true }).catch((e: unknown) => {
    throw asImageError(e, last.to);
  });
  const source = await openSource(image, settings.allowDirty, {
    tmpDir: dirname(last.to),
    ...(signal ? { signal } : {}),
  });
  const results: ExtractResult[] = [];
  try {
    for (const [i, dest] of destinations.entries()) {
      const started = performance.now();
      const fs = await source.fileSystem(targets[i]?.partition);
      const to = targets[i]?.to ?? dest.to;
      const counts = await writeOne(fs, dest, settings, python, to);
      results.push({ format, to, ...counts, durationMs: performance.now() - started });
    }
    if (signal?.aborted)
      throw new ImageError('ABORTED', 'extraction was cancelled', { cause: signal.reason });
    for (const dest of destinations) await commit(dest);
    for (const r of results) settings.logger?.info({ ...r }, 'extracted file system');
    return results;
  } catch (e) {
    for (const dest of destinations) await discard(dest);
    settings.logger?.warn(
      { err: e, to: targets.map((t) => t.to) },
      'extraction failed; partial output removed',
    );
    throw asImageError(e, targets[0]?.to ?? '');
  } finally {
    await source.release();
  }
}

/** Scan (totals and the output limit), then write one file system into its staging directory. */
async function writeOne(
  fs: FileSystem,
  dest: Destination,
  settings: Settings,
  python: string | undefined,
  shownAs: string,
): Promise<Counts> {
  const progress = new ProgressTracker(shownAs, settings.onProgress, settings.signal);
  progress.check();
  const output = await stage(dest);
  const scanned = await scanTotals(fs, progress);
  settings.logger?.debug(
    { files: progress.totalFiles, bytes: progress.totalBytes, format: settings.format, to: dest.to },
    'extracting',
  );
  let counts: Counts;
  if (settings.format === 'dir') {
    await mkdir(output, { mode: 0o700 });
    counts = await writeTree(
      fs,
      output,
      { privileged: settings.privileged, concurrency: settings.concurrency, python: python as string },
      progress,
      scanned,
    );
  } else {
    const fh = await open(output, 'wx', 0o644);
    try {
      counts = await writeTar(fs, fh, progress, scanned);
    } finally {
      await fh.close();
    }
  }
  progress.check();
  progress.emit('finish', true);
  return counts;
}
