import { type FileHandle, open } from 'node:fs/promises';
import { ImageError } from './errors.js';

/**
 * Random-access bytes: a whole disk image, or one partition of it (a slice).
 * Every file-system reader works on a BlockSource, never on a path.
 */
export interface BlockSource {
  /** Size in bytes. */
  readonly size: number;
  /** Read exactly `length` bytes at `position`; throws ImageError('TRUNCATED') past the end. */
  read(position: number, length: number): Promise<Buffer>;
  /** Optional: fill `target` with the bytes at `position` (same checks), so callers can reuse buffers. */
  readInto?(target: Buffer, position: number): Promise<void>;
  close(): Promise<void>;
}

/** A BlockSource over a file (pread on one descriptor). */
export class FileBlockSource implements BlockSource {
  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    readonly path: string,
  ) {}

  static async open(path: string): Promise<FileBlockSource> {
    const fh = await open(path, 'r');
    const st = await fh.stat();
    return new FileBlockSource(fh, st.size, path);
  }

  async read(position: number, length: number): Promise<Buffer> {
    if (position < 0 || length < 0 || position + length > this.size) {
      throw new ImageError(
        'TRUNCATED',
        `read of ${length} bytes at ${position} is past the end of ${this.path} (${this.size} bytes): the image is truncated or corrupt`,
      );
    }
    const buf = Buffer.allocUnsafe(length);
    await this.fill(buf, position);
    return buf;
  }

  async readInto(target: Buffer, position: number): Promise<void> {
    if (position < 0 || position + target.length > this.size) {
      throw new ImageError(
        'TRUNCATED',
        `read of ${target.length} bytes at ${position} is past the end of ${this.path} (${this.size} bytes): the image is truncated or corrupt`,
      );
    }
    await this.fill(target, position);
  }

  private async fill(buf: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await this.fh.read(buf, done, buf.length - done, position + done);
      if (bytesRead === 0)
        throw new ImageError('TRUNCATED', `unexpected end of ${this.path} at ${position + done}`);
      done += bytesRead;
    }
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** A window [offset, offset+size) of another source: a partition. */
export class SliceSource implements BlockSource {
  constructor(
    private readonly parent: BlockSource,
    readonly offset: number,
    readonly size: number,
  ) {
    if (offset + size > parent.size) {
      throw new ImageError(
        'TRUNCATED',
        `partition at byte ${offset} of ${size} bytes ends past the image end (${parent.size} bytes): the image is truncated`,
      );
    }
  }
  read(position: number, length: number): Promise<Buffer> {
    if (position < 0 || position + length > this.size) {
      return Promise.reject(
        new ImageError(
          'TRUNCATED',
          `read of ${length} bytes at ${position} is past the partition end (${this.size})`,
        ),
      );
    }
    return this.parent.read(this.offset + position, length);
  }
  async readInto(target: Buffer, position: number): Promise<void> {
    if (position < 0 || position + target.length > this.size) {
      throw new ImageError(
        'TRUNCATED',
        `read of ${target.length} bytes at ${position} is past the partition end (${this.size})`,
      );
    }
    if (this.parent.readInto) return this.parent.readInto(target, this.offset + position);
    (await this.parent.read(this.offset + position, target.length)).copy(target);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A BlockSource over a Buffer (tests, small images). */
export class BufferSource implements BlockSource {
  constructor(private readonly buf: Buffer) {}
  get size(): number {
    return this.buf.length;
  }
  read(position: number, length: number): Promise<Buffer> {
    if (position < 0 || position + length > this.buf.length) {
      return Promise.reject(
        new ImageError(
          'TRUNCATED',
          `read of ${length} bytes at ${position} is past the end (${this.buf.length})`,
        ),
      );
    }
    return Promise.resolve(this.buf.subarray(position, position + length));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
