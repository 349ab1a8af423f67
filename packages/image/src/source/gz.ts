import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { DecodedStream } from './decoded-stream.js';

/** Decode a .gz file (RFC 1952) with node:zlib. Multi-member files are decoded as one stream. */
export function gzStream(path: string): DecodedStream {
  const gunzip = createGunzip();
  const input = createReadStream(path);
  input.on('error', (e) => gunzip.destroy(e));
  input.pipe(gunzip);
  return { stream: gunzip, done: Promise.resolve(), decoder: 'node:zlib gunzip', total: undefined };
}
