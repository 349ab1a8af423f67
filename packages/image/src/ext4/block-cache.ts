import type { BlockSource } from '../block-source.js';

/**
 * A small LRU cache of fixed-size chunks of a BlockSource (metadata: inode tables, extent and
 * indirect blocks, xattr blocks). Bounded by `maxBytes`, so memory stays flat on any image size.
 */
export class BlockCache {
  private readonly map = new Map<number, Promise<Buffer>>();
  private readonly maxEntries: number;

  constructor(
    private readonly source: BlockSource,
    readonly chunkSize: number,
    maxBytes = 16 * 1024 * 1024,
  ) {
    this.maxEntries = Math.max(4, Math.floor(maxBytes / chunkSize));
  }

  /** The cached chunk with index `chunk` (bytes [chunk*chunkSize, +chunkSize), clamped to the source end). */
  chunk(chunk: number): Promise<Buffer> {
    const hit = this.map.get(chunk);
    if (hit) {
      this.map.delete(chunk);
      this.map.set(chunk, hit);
      return hit;
    }
    const pos = chunk * this.chunkSize;
    const len = Math.min(this.chunkSize, this.source.size - pos);
    const p = this.source.read(pos, len);
    this.map.set(chunk, p);
    p.catch(() => this.map.delete(chunk));
    if (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    return p;
  }

  /** `length` bytes at `position`; served from one chunk when it fits, else read directly. */
  async read(position: number, length: number): Promise<Buffer> {
    const c = Math.floor(position / this.chunkSize);
    const off = position - c * this.chunkSize;
    if (off + length <= this.chunkSize) {
      const buf = await this.chunk(c);
      if (off + length <= buf.length) return buf.subarray(off, off + length);
    }
    return this.source.read(position, length);
  }
}
