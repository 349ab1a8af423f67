import { ImageError, OutputLimitError } from '../errors.js';
import type { ExtractProgress } from './options.js';

/**
 * Counts work done, reports it at most every ~100 ms (and always at phase ends), checks the abort
 * signal, and enforces the output limit: file data written never exceeds `limitBytes`.
 */
export class ProgressTracker {
  bytes = 0;
  files = 0;
  totalBytes = 0;
  totalFiles = 0;
  /** Most file data bytes this extraction may write (the file system's bytes in use). */
  limitBytes = Number.POSITIVE_INFINITY;
  private last = 0;

  constructor(
    private readonly to: string,
    private readonly callback: ((p: ExtractProgress) => void) | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Throw ImageError('ABORTED') once the signal fired. */
  check(): void {
    if (this.signal?.aborted)
      throw new ImageError('ABORTED', 'extraction was cancelled', { cause: this.signal.reason });
  }

  /** Account for `length` bytes about to be written; OutputLimitError if they pass the limit. */
  countBytes(length: number): void {
    if (this.bytes + length > this.limitBytes)
      throw new OutputLimitError(this.bytes + length, this.limitBytes);
    this.bytes += length;
  }

  emit(phase: ExtractProgress['phase'], force = false): void {
    if (!this.callback) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    this.callback({
      to: this.to,
      phase,
      bytes: this.bytes,
      totalBytes: this.totalBytes,
      files: this.files,
      totalFiles: this.totalFiles,
    });
  }
}
