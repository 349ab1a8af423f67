import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { execa } from 'execa';
import { ImageError } from '../errors.js';
import type { DecodedStream } from './decoded-stream.js';
import { which } from './which.js';
import { xzUncompressedSize } from './xz-index.js';

export type XzDecoder = 'auto' | 'program' | 'wasm';

/**
 * Decode an .xz file as a stream. `program` runs `xz -dc -T0` (multi-threaded on multi-block
 * files, the fastest decoder); `wasm` uses the xz-decompress WebAssembly decoder; `auto` prefers
 * the program where it is installed.
 */
export async function xzStream(
  path: string,
  decoder: XzDecoder,
  signal?: AbortSignal,
): Promise<DecodedStream> {
  const total = await xzUncompressedSize(path).catch(() => undefined);
  const program = decoder === 'wasm' ? undefined : which('xz');
  if (decoder === 'program' && program === undefined) {
    throw new ImageError(
      'DECOMPRESS_FAILED',
      'the xz program is not installed: install xz-utils or use the wasm decoder',
    );
  }
  if (program !== undefined) {
    const proc = execa(program, ['-d', '-c', '-T0', '--', path], {
      buffer: { stdout: false, stderr: true },
      stdin: 'ignore',
      reject: false,
      ...(signal ? { cancelSignal: signal } : {}),
    });
    const done = proc.then((r) => {
      if (r.isCanceled) throw new ImageError('ABORTED', 'decompression was aborted');
      if (r.exitCode !== 0) {
        throw new ImageError(
          'DECOMPRESS_FAILED',
          `xz could not decompress ${path} (exit ${r.exitCode ?? r.signal}): ${String(r.stderr).trim()}`,
        );
      }
    });
    return { stream: proc.stdout!, done, decoder: 'xz -T0', total };
  }
  const XzReadableStream = await loadXzReadableStream();
  const input = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
  const web = new XzReadableStream(input) as unknown as WebReadableStream<Uint8Array>;
  const stream = Readable.fromWeb(web, signal ? { signal } : {});
  return { stream, done: Promise.resolve(), decoder: 'xz-decompress (wasm)', total };
}

type XzModule = typeof import('xz-decompress');

/**
 * xz-decompress is a webpack-built CommonJS module: plain Node's ESM loader puts its exports on
 * `.default` (named exports are not detected), while bundlers and vitest hoist them to named
 * exports. Accept either shape.
 */
async function loadXzReadableStream(): Promise<XzModule['XzReadableStream']> {
  const loaded = (await import('xz-decompress')) as XzModule & { default?: Partial<XzModule> };
  const found = loaded.XzReadableStream ?? loaded.default?.XzReadableStream;
  if (typeof found !== 'function') {
    throw new ImageError('DECOMPRESS_FAILED', 'the xz-decompress module has no XzReadableStream');
  }
  return found;
}
