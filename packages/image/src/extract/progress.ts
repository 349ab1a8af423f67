import { ImageError } from '../errors.js';
import type { ExtractProgress } from './options.js';

/** Counts work done and reports it at most every ~100 ms (and always at phase ends). */
export class ProgressTracker {
  bytes = 0;
  files = 0;
  totalBytes = 0;
  totalFiles = 0;
  private last = 0;

  constructor(
    private readonly cb: ((p: ExtractProgress) => void) | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Throw ImageError('ABORTED') once the signal fired. */
  check(): void {
    if (this.signal?.aborted)
      throw new ImageError('ABORTED', 'extraction was cancelled', { cause: this.signal.reason });
  }

  emit(phase: ExtractProgress['phase'], force = false): void {
    if (!this.cb) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    this.cb({
      phase,
      bytes: this.bytes,
      totalBytes: this.totalBytes,
      files: this.files,
      totalFiles: this.totalFiles,
    });
  }
}
