import type { FileSystem } from '../filesystem.js';
import type { ProgressTracker } from './progress.js';

/** Pre-walk: count entries and unique file bytes so progress has totals (metadata only, no data read). */
export async function countTotals(fs: FileSystem, progress: ProgressTracker): Promise<void> {
  const seen = new Set<number>();
  let files = 0;
  let bytes = 0;
  for await (const { node } of fs.walk('/')) {
    progress.check();
    files++;
    const s = node.stat;
    if (s.type === 'file' && !(s.nlink > 1 && seen.has(s.ino))) {
      if (s.nlink > 1) seen.add(s.ino);
      bytes += s.size;
    }
  }
  progress.totalFiles = files;
  progress.totalBytes = bytes;
  progress.emit('scan', true);
}
