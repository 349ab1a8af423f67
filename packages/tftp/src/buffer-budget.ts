/**
 * The server-wide budget for read-ahead buffers (both engines). A read transfer reserves its read-ahead
 * chunk here; when the budget is spent it reads one block at a time instead (slower, never refused), so the
 * bytes a server buffers for reads stay near `limit`, whatever many clients open and then stall.
 */
export class BufferBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Reserve `bytes` if they fit; false (nothing reserved) otherwise. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  /** Return bytes reserved with `take`. */
  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }
}

/** Read-ahead of one transfer: at most this many bytes, whatever its window (blocks beyond it are read on demand). */
export const READ_AHEAD_BYTES = 256 * 1024;
/** ...and at least this many (lock-step transfers of small blocks still read in large pieces). */
const MIN_READ_AHEAD_BYTES = 64 * 1024;

/** The read-ahead of a transfer: one window, within 64–256 KiB, whole blocks, at least one block. */
export function readAheadBytes(blksize: number, windowsize: number): number {
  const bytes = Math.min(READ_AHEAD_BYTES, Math.max(MIN_READ_AHEAD_BYTES, windowsize * blksize));
  return Math.max(1, Math.floor(bytes / blksize)) * blksize;
}
