import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createServer,
  fsHandler,
  type ServerOptions,
  type TftpServer,
  type TransferEvent,
} from '../src/index.js';

export const SIZES = { empty: 0, s511: 511, s512: 512, s513: 513, m3: 3 * 1024 * 1024 } as const;

export async function tempDir(tag: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `bramble-tftp-${tag}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Write a file of pseudo-random bytes; returns its sha256. Large files are written in 1 MiB pieces. */
export async function makeFile(path: string, size: number): Promise<string> {
  const h = createHash('sha256');
  if (size <= 8 * 1024 * 1024) {
    const b = randomBytes(size);
    h.update(b);
    await writeFile(path, b);
    return h.digest('hex');
  }
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'w');
  try {
    const piece = randomBytes(1024 * 1024);
    let left = size;
    let i = 0;
    while (left > 0) {
      piece.writeUInt32BE(i++, 0); // make pieces differ so misordered blocks are caught
      const n = Math.min(left, piece.length);
      h.update(piece.subarray(0, n));
      await fh.write(piece, 0, n);
      left -= n;
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export interface TestServer {
  server: TftpServer;
  port: number;
  events: { kind: string; ev: TransferEvent }[];
  close(): Promise<void>;
}

/** The engine under test: the vitest project 'js' sets BRAMBLE_TFTP_NATIVE=0; otherwise the native pump is required. */
export const ENGINE: 'native' | 'js' = process.env.BRAMBLE_TFTP_NATIVE === '0' ? 'js' : 'native';

export async function startServer(root: string, opts: Partial<ServerOptions> = {}): Promise<TestServer> {
  const server = createServer({
    handler: fsHandler(root),
    timeoutMs: 200,
    retries: 5,
    engine: opts.singlePort ? 'auto' : ENGINE, // single-port transfers always run on the TypeScript sender
    ...opts,
  });
  const events: { kind: string; ev: TransferEvent }[] = [];
  for (const kind of ['request', 'start', 'complete', 'aborted', 'failed'] as const)
    server.on(kind, (ev) => events.push({ kind, ev }));
  const { port } = await server.listen({ address: '127.0.0.1', port: 0 });
  return { server, port, events, close: () => server.close({ deadlineMs: 500 }) };
}
