import { type FileHandle, open } from 'node:fs/promises';

/** Granularity of hole detection: all-zero blocks of this size are skipped (left as holes). */
export const SPARSE_BLOCK = 4096;
const BATCH = 1024 * 1024;

/**
 * Writes a byte stream to a file, seeking over all-zero 4 KiB blocks instead of writing them, so
 * the result is sparse (images that went through zerofree shrink to their used size on disk).
 */
export class SparseWriter {
  private pending: Buffer = Buffer.allocUnsafe(BATCH);
  private pendingLen = 0;
  private position = 0;

  private constructor(private readonly fh: FileHandle) {}

  static async create(path: string): Promise<SparseWriter> {
    return new SparseWriter(await open(path, 'wx'));
  }

  /** Bytes accepted so far. */
  get bytes(): number {
    return this.position + this.pendingLen;
  }

  async write(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, BATCH - this.pendingLen);
      this.pending.set(chunk.subarray(off, off + n), this.pendingLen);
      this.pendingLen += n;
      off += n;
      if (this.pendingLen === BATCH) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    const buf = this.pending;
    const len = this.pendingLen;
    let runStart = -1;
    for (let b = 0; b < len; b += SPARSE_BLOCK) {
      const end = Math.min(b + SPARSE_BLOCK, len);
      const zero = isZero(buf, b, end);
      if (!zero && runStart < 0) runStart = b;
      if (zero && runStart >= 0) {
        await this.writeAll(buf, runStart, b);
        runStart = -1;
      }
    }
    if (runStart >= 0) await this.writeAll(buf, runStart, len);
    this.position += len;
    this.pendingLen = 0;
  }

  private async writeAll(buf: Buffer, start: number, end: number): Promise<void> {
    let done = start;
    while (done < end) {
      const { bytesWritten } = await this.fh.write(buf, done, end - done, this.position + done);
      done += bytesWritten;
    }
  }

  /** Flush, set the final length (a trailing hole is kept by truncate) and close. Returns the size. */
  async finish(): Promise<number> {
    await this.flush();
    await this.fh.truncate(this.position);
    await this.fh.close();
    return this.position;
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

const ZERO = Buffer.alloc(SPARSE_BLOCK);

/** All-zero test through a native memcmp against a zero block (~50x faster than a JS loop). */
function isZero(b: Buffer, start: number, end: number): boolean {
  return b.subarray(start, end).equals(ZERO.subarray(0, end - start));
}
