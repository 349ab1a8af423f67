import type { BlockSource } from '../block-source.js';

/**
 * Read-ahead for small file data: aligned windows of `windowSize` bytes read in one go and kept
 * in a small LRU (`maxWindows`, so memory is bounded: windowSize × (maxWindows + spares)). File
 * systems written in one go (mkfs -d, an OS build) lay small files out one after another, so one
 * window read serves dozens of files instead of one read each.
 *
 * Callers get a copy (a fresh buffer, or into theirs), never a view, so an evicted window's buffer is reused for the next window
 * (no allocation churn, which would drive V8's full GCs through external memory). A window is
 * copied from only when it is already loaded, in the same tick as the lookup, so a reused buffer
 * is never read while the next load fills it.
 */
export class ReadWindow {
  private readonly windows = new Map<number, Buffer | Promise<Buffer>>();
  private readonly spare: Buffer[] = [];

  constructor(
    private readonly source: BlockSource,
    private readonly windowSize: number,
    private readonly maxWindows: number,
  ) {}

  /** `length` bytes at `position` (a fresh buffer); reads spanning two windows go direct. */
  async read(position: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length);
    await this.readInto(out, position);
    return out;
  }

  /** Fill `target` with the bytes at `position` (copied from a window; spanning reads go direct). */
  async readInto(target: Buffer, position: number): Promise<void> {
    const length = target.length;
    const index = Math.floor(position / this.windowSize);
    const offset = position - index * this.windowSize;
    if (offset + length <= this.windowSize) {
      // Bounded: each pass either copies, or waits for a load that completes or fails.
      for (let attempt = 0; attempt < 4; attempt++) {
        const entry = this.windows.get(index) ?? this.load(index);
        if (entry instanceof Buffer) {
          this.windows.delete(index);
          this.windows.set(index, entry);
          if (offset + length > entry.length) break;
          entry.copy(target, 0, offset, offset + length);
          return;
        }
        await entry;
      }
    }
    if (this.source.readInto) await this.source.readInto(target, position);
    else (await this.source.read(position, length)).copy(target);
  }

  private load(index: number): Promise<Buffer> {
    const position = index * this.windowSize;
    const length = Math.min(this.windowSize, this.source.size - position);
    const pending = this.fill(position, length).then(
      (buf) => {
        if (this.windows.get(index) === pending) this.windows.set(index, buf);
        else this.recycle(buf);
        return buf;
      },
      (e: unknown) => {
        if (this.windows.get(index) === pending) this.windows.delete(index);
        throw e;
      },
    );
    this.windows.set(index, pending);
    while (this.windows.size > this.maxWindows) {
      const [oldest, evicted] = this.windows.entries().next().value as [number, Buffer | Promise<Buffer>];
      this.windows.delete(oldest);
      if (evicted instanceof Buffer) this.recycle(evicted);
    }
    return pending;
  }

  private async fill(position: number, length: number): Promise<Buffer> {
    if (!this.source.readInto) return this.source.read(position, length);
    const whole = this.spare.pop() ?? Buffer.allocUnsafe(this.windowSize);
    const target = whole.subarray(0, length);
    try {
      await this.source.readInto(target, position);
    } catch (e) {
      this.recycle(whole);
      throw e;
    }
    return target;
  }

  /** Keep a window-sized buffer for the next load (a few at most). */
  private recycle(buf: Buffer): void {
    // Only buffers `fill` allocated (whole, unpooled); never a view a source handed out.
    const ours =
      this.source.readInto !== undefined && buf.byteOffset === 0 && buf.buffer.byteLength === this.windowSize;
    if (ours && this.spare.length < 4) this.spare.push(Buffer.from(buf.buffer, 0, this.windowSize));
  }
}
