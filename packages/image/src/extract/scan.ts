import { OutputLimitError } from '../errors.js';
import type { DataRange, FileSystem, FsNode } from '../filesystem.js';
import type { ProgressTracker } from './progress.js';

/** One entry of the pre-walk, kept for the writer so the tree is not walked and parsed twice. */
export interface ScannedEntry {
  path: string;
  node: FsNode;
  /** A regular file's data ranges, as summed for the output limit (absent for other types). */
  ranges?: DataRange[];
}

/**
 * Entries the scan keeps for the writer: a parsed inode, its path and ranges, about 1.5 KiB each
 * (measured: +31 MB peak RSS for 21,294 entries), so at most ~48 MiB. A larger tree is walked
 * and parsed again by the writer instead, as before.
 */
export const MAX_KEPT_ENTRIES = 32_768;

/**
 * Pre-walk (metadata and block maps only, no file data): count the entries and the file data
 * bytes extraction will write — data ranges, so holes do not count; each inode once when it is a
 * hard link (link count > 1), as the writers do — and refuse, before writing anything, a tree
 * whose data does not fit in the bytes the file system has in use (OutputLimitError).
 *
 * Returns the walked entries with their ranges when there are at most `maxKept`, else undefined
 * (the list is dropped as soon as it would grow past the bound). Writing what was scanned also
 * means the ranges written are exactly the ranges that passed the limit.
 */
export async function scanTotals(
  fs: FileSystem,
  progress: ProgressTracker,
  maxKept = MAX_KEPT_ENTRIES,
): Promise<ScannedEntry[] | undefined> {
  const linked = new Set<number>();
  const limit = fs.usedBytes;
  let kept: ScannedEntry[] | undefined = [];
  let files = 0;
  let bytes = 0;
  for await (const { path, node } of fs.walk('/')) {
    progress.check();
    files++;
    const entry: ScannedEntry = { path, node };
    if (kept !== undefined) {
      if (kept.length < maxKept) kept.push(entry);
      else kept = undefined;
    }
    const s = node.stat;
    if (s.type !== 'file' || s.size === 0) continue;
    if (s.nlink > 1) {
      if (linked.has(s.ino)) continue;
      linked.add(s.ino);
    }
    const ranges = await fs.dataRanges(node);
    if (kept !== undefined) entry.ranges = ranges;
    for (const range of ranges) bytes += range.length;
    if (bytes > limit) throw new OutputLimitError(bytes, limit);
  }
  progress.totalFiles = files;
  progress.totalBytes = bytes;
  progress.limitBytes = limit;
  progress.emit('scan', true);
  return kept;
}

/** What a writer iterates: the scan's kept entries, else a fresh walk. */
export function entriesOf(
  fs: FileSystem,
  scanned: readonly ScannedEntry[] | undefined,
): Iterable<ScannedEntry> | AsyncIterable<ScannedEntry> {
  return scanned ?? fs.walk('/');
}
