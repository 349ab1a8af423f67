import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { ImageError } from '../errors.js';
import type { DecodedStream } from './decoded-stream.js';
import type { ImageFormat } from './detect.js';
import { SparseWriter } from './sparse-writer.js';
import { type XzDecoder, xzStream } from './xz.js';
import { zipStream } from './zip.js';

export interface DecompressOptions {
  signal?: AbortSignal | undefined;
  onProgress?: ((p: { bytes: number; total?: number }) => void) | undefined;
  xzDecoder?: XzDecoder | undefined;
  /** Refuse output larger than this (bytes); default 1 TiB. Guards against decompression bombs filling the disk. */
  maxBytes?: number | undefined;
}

/** Open the decoder for a compressed container. */
export async function openDecoder(
  path: string,
  format: Exclude<ImageFormat, 'raw'>,
  options: DecompressOptions,
): Promise<DecodedStream> {
  switch (format) {
    case 'xz':
      return xzStream(path, options.xzDecoder ?? 'auto', options.signal);
    case 'gz':
      return gzStream(path);
    case 'zip':
      return zipStream(path);
  }
}

/**
 * Decompress `path` once, streaming, into the sparse file `dest` (all-zero 4 KiB blocks become
 * holes). `dest` is removed on any failure or abort. Returns the decompressed size.
 */
export async function decompressToFile(
  path: string,
  format: Exclude<ImageFormat, 'raw'>,
  dest: string,
  options: DecompressOptions = {},
): Promise<{ size: number; decoder: string }> {
  if (options.signal?.aborted) throw new ImageError('ABORTED', 'decompression was aborted');
  const maxBytes = options.maxBytes ?? 2 ** 40;
  let writer: SparseWriter | undefined;
  let decoded: DecodedStream | undefined;
  try {
    writer = await SparseWriter.create(dest);
    decoded = await openDecoder(path, format, options);
    const total = decoded.total;
    let lastReport = 0;
    for await (const chunk of decoded.stream) {
      if (options.signal?.aborted) throw new ImageError('ABORTED', 'decompression was aborted');
      await writer.write(chunk as Uint8Array);
      if (writer.bytes > maxBytes) {
        throw new ImageError(
          'DECOMPRESS_FAILED',
          `${path} decompresses to more than ${maxBytes} bytes: refusing (decompression bomb?)`,
        );
      }
      if (options.onProgress && writer.bytes - lastReport >= 4 * 1024 * 1024) {
        lastReport = writer.bytes;
        options.onProgress(total === undefined ? { bytes: writer.bytes } : { bytes: writer.bytes, total });
      }
    }
    await decoded.done;
    if (options.signal?.aborted) throw new ImageError('ABORTED', 'decompression was aborted');
    const size = await writer.finish();
    writer = undefined;
    if (total !== undefined && size !== total) {
      throw new ImageError(
        'TRUNCATED',
        `${path}: decompressed ${size} bytes, the archive says ${total}: the archive is damaged`,
      );
    }
    options.onProgress?.({ bytes: size, total: size });
    return { size, decoder: decoded.decoder };
  } catch (e) {
    decoded?.stream.destroy();
    await decoded?.done.catch(() => undefined);
    await writer?.abort();
    await rm(dest, { force: true });
    throw toImageError(e, path, format, options.signal);
  }
}

function toImageError(e: unknown, path: string, format: string, signal: AbortSignal | undefined): ImageError {
  if (e instanceof ImageError) return e;
  if (signal?.aborted || (e as Error)?.name === 'AbortError')
    return new ImageError('ABORTED', 'decompression was aborted', { cause: e });
  return new ImageError(
    'DECOMPRESS_FAILED',
    `cannot decompress ${path} as ${format}: ${(e as Error)?.message ?? String(e)}`,
    {
      cause: e,
    },
  );
}

/** Decode a .gz file (RFC 1952) with node:zlib. Multi-member files are decoded as one stream. */
function gzStream(path: string): DecodedStream {
  const gunzip = createGunzip();
  const input = createReadStream(path);
  input.on('error', (e) => gunzip.destroy(e));
  input.pipe(gunzip);
  return { stream: gunzip, done: Promise.resolve(), decoder: 'node:zlib gunzip', total: undefined };
}
