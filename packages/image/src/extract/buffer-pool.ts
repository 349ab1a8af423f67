/**
 * Reusable fixed-size buffers for file data in flight: a job takes one, reads into it, writes it
 * out and gives it back only after the write completed. Allocating a fresh 1 MiB buffer per chunk
 * instead drives V8's full GCs through external memory. At most `maxSpare` idle buffers are kept,
 * so memory stays bounded by the jobs in flight plus the spares.
 */
export class BufferPool {
  private readonly spare: Buffer[] = [];

  constructor(
    readonly bufferSize: number,
    private readonly maxSpare: number,
  ) {}

  take(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.bufferSize);
  }

  /** Return a buffer from `take` once nothing reads or writes it any more. */
  give(buf: Buffer): void {
    if (buf.length === this.bufferSize && this.spare.length < this.maxSpare) this.spare.push(buf);
  }
}
