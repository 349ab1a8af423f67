/**
 * Read sources: what a read handler returns. A `ReadSource` does positioned reads so a sender can
 * serve retransmissions and many concurrent transfers without per-packet allocation.
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { TftpError } from './errors.js';

export interface ReadSource {
  /** Size in bytes if known (enables RFC 2349 tsize). */
  readonly size: number | undefined;
  /** The whole content, when it is in memory (senders then copy from it directly). */
  readonly buffer?: Buffer;
  /**
   * An open file descriptor holding the content from offset 0 (valid until `close`), when the source is a
   * file: the native pump then reads it with pread(2) off the JavaScript thread.
   */
  readonly fd?: number;
  /**
   * Read up to `length` bytes at `position` into `buf` at `offset`; resolves the count (0 at end).
   * Positions only move backwards within the unacknowledged window (after `release`).
   */
  read(buf: Buffer, offset: number, length: number, position: number): number | Promise<number>;
  /** Bytes before `position` will never be read again (lets stream sources free memory). */
  release?(position: number): void;
  close(): void | Promise<void>;
}

/** A source over an in-memory buffer. */
export function bufferSource(data: Uint8Array): ReadSource {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  return {
    size: buf.length,
    buffer: buf,
    read(target, offset, length, position) {
      if (position >= buf.length) return 0;
      return buf.copy(target, offset, position, Math.min(buf.length, position + length));
    },
    close() {},
  };
}

/** A source over a file opened by the caller-side path; size from fstat. Reads are positioned (pread). */
export async function fileSource(path: string): Promise<ReadSource> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new TftpError('NOT_A_FILE', `'${path}' is not a regular file`);
    return {
      size: st.size,
      fd: fh.fd,
      async read(target, offset, length, position) {
        const { bytesRead } = await fh.read(target, offset, length, position);
        return bytesRead;
      },
      close: () => fh.close(),
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/**
 * A source over a Readable stream (generated content). Keeps only the bytes between the last
 * `release` and the furthest read, so memory stays bounded by the send window.
 */
export function streamSource(stream: Readable, size?: number): ReadSource {
  let base = 0; // file position of chunks[0][0]
  const chunks: Buffer[] = [];
  let buffered = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stream.on('data', (c: Buffer | string) => {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    chunks.push(b);
    buffered += b.length;
    if (buffered > 8 * 1024 * 1024) stream.pause();
    notify();
  });
  stream.on('end', () => {
    ended = true;
    notify();
  });
  stream.on('error', (e) => {
    failure = e;
    notify();
  });
  const copyOut = (target: Buffer, offset: number, length: number, position: number): number => {
    let skip = position - base;
    let written = 0;
    for (const c of chunks) {
      if (written >= length) break;
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      const n = c.copy(target, offset + written, skip, Math.min(c.length, skip + length - written));
      written += n;
      skip = 0;
    }
    return written;
  };
  return {
    size,
    async read(target, offset, length, position) {
      if (position < base)
        throw new TftpError('STREAM_REWIND', 'stream source cannot rewind past released data');
      for (let i = 0; i < 1_000_000; i++) {
        if (failure)
          throw new TftpError('SOURCE_ERROR', `read source failed: ${failure.message}`, { cause: failure });
        if (base + buffered >= position + length || ended) break;
        if (stream.isPaused()) stream.resume();
        await new Promise<void>((r) => {
          wake = r;
        });
      }
      return copyOut(target, offset, length, position);
    },
    release(position) {
      while (chunks.length > 0) {
        const c = chunks[0] as Buffer;
        if (base + c.length > position) break;
        chunks.shift();
        base += c.length;
        buffered -= c.length;
      }
      if (buffered < 4 * 1024 * 1024 && stream.isPaused() && !ended) stream.resume();
    },
    close() {
      stream.destroy();
    },
  };
}

/** Anything a read handler may return. */
export type ReadResponse =
  | ReadSource
  | Uint8Array
  | Readable
  | { stream: Readable; size?: number }
  | { file: string };

function isReadSource(v: object): v is ReadSource {
  return (
    typeof (v as ReadSource).read === 'function' &&
    typeof (v as ReadSource).close === 'function' &&
    'size' in v
  );
}

function isReadable(v: object): v is Readable {
  return typeof (v as Readable).pipe === 'function' && typeof (v as Readable).on === 'function';
}

/** Normalise a handler's answer into a `ReadSource`. */
export async function toReadSource(r: ReadResponse): Promise<ReadSource> {
  if (r instanceof Uint8Array) return bufferSource(r);
  if (isReadable(r)) return streamSource(r);
  if (isReadSource(r)) return r;
  if ('stream' in r) return streamSource(r.stream, r.size);
  if ('file' in r) return fileSource(r.file);
  throw new TftpError('BAD_HANDLER_RESULT', 'read handler returned something that is not a source');
}
