import type { Readable } from 'node:stream';

/** A decompressed byte stream of an image plus the decoder's completion (rejects on decoder errors). */
export interface DecodedStream {
  stream: Readable;
  /** Resolves when the decoder exited cleanly; rejects with ImageError otherwise. */
  done: Promise<void>;
  /** Human-readable decoder name, for logs. */
  decoder: string;
  /** Uncompressed size when the container records it (zip central directory, xz index), for progress and a final length check. */
  total: number | undefined;
}
