/** Fuzz: ≥100k random and mutated datagrams at the listening port and at a live transfer, then a clean transfer. */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, encode, fetchFile, type Packet, type TftpServer } from '../src/index.js';

const FILE = randomBytes(100_000);
let server: TftpServer;
let port: number;
let uncaught = 0;
let requests = 0;
const onUncaught = () => {
  uncaught++;
};

beforeAll(async () => {
  process.on('uncaughtException', onUncaught);
  server = createServer({
    handler: (req) => (req.file === 'f' || req.file === 'F' ? FILE : null),
    timeoutMs: 30,
    retries: 1,
    maxTransfers: 256,
  });
  server.on('request', () => {
    requests++;
  });
  ({ port } = await server.listen({ address: '127.0.0.1', port: 0 }));
});
afterAll(async () => {
  await server.close({ deadlineMs: 100 });
  process.off('uncaughtException', onUncaught);
});

// Deterministic PRNG so a failure can be replayed.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS: Packet[] = [
  { op: 1, filename: 'f', mode: 'octet', options: { tsize: '0', blksize: '1024', windowsize: '8' } },
  { op: 2, filename: 'up', mode: 'octet', options: { tsize: '10' } },
  { op: 1, filename: '../../etc/passwd', mode: 'netascii', options: {} },
  { op: 3, block: 1, data: Buffer.alloc(512) },
  { op: 4, block: 0 },
  { op: 5, code: 8, message: 'Early terminate' },
  { op: 6, options: { blksize: '512' } },
];

function mutate(r: () => number): Buffer {
  const kind = r();
  if (kind < 0.3) {
    const b = randomBytes(Math.floor(r() * 600));
    if (b.length >= 2 && r() < 0.7) b.writeUInt16BE(Math.floor(r() * 8), 0); // plausible opcode
    return b;
  }
  const base = encode(SEEDS[Math.floor(r() * SEEDS.length)] as Packet);
  if (kind < 0.45) return base.subarray(0, Math.floor(r() * base.length)); // truncated
  if (kind < 0.55) {
    // huge option list
    const parts = [base.subarray(0, Math.min(base.length, 10))];
    for (let i = 0, n = Math.floor(r() * 400); i < n; i++) parts.push(Buffer.from(`o${i}\0${i}\0`));
    return Buffer.concat(parts);
  }
  if (kind < 0.65) return Buffer.concat([base, randomBytes(Math.floor(r() * 40))]); // trailing junk / odd sizes
  const b = Buffer.from(base);
  for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++)
    b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
  if (r() < 0.3) b.fill(0x41, Math.floor(r() * b.length)); // remove NUL terminators
  return b;
}

describe('fuzz', () => {
  it('100k random/mutated packets never crash or wedge the server', async () => {
    const r = rng(0xb4a3b1e);
    const sockets = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const s = createSocket('udp4');
        s.on('message', () => {});
        s.on('error', () => {});
        await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
        return s;
      }),
    );
    // A live transfer whose port also gets fuzzed.
    const live = createSocket('udp4');
    let livePort = 0;
    live.on('message', (_m, ri) => {
      livePort = ri.port;
    });
    await new Promise<void>((res) => live.bind(0, '127.0.0.1', () => res()));
    live.send(
      encode({ op: 1, filename: 'f', mode: 'octet', options: { blksize: '512' } }),
      port,
      '127.0.0.1',
    );
    const TOTAL = 100_000;
    for (let i = 0; i < TOTAL; i++) {
      const s = sockets[i % sockets.length];
      const target = livePort && r() < 0.2 ? livePort : port;
      s?.send(mutate(r), target, '127.0.0.1');
      if (i % 250 === 249) await new Promise((res) => setImmediate(res));
    }
    await new Promise((res) => setTimeout(res, 300));
    for (const s of sockets) s.close();
    live.close();
    expect(uncaught).toBe(0);
    expect(requests).toBeGreaterThan(100); // the fuzz reached request handling, not only the decoder
    const { data } = await fetchFile('127.0.0.1', 'f', { port, blksize: 1468, tsize: true });
    expect(data.equals(FILE)).toBe(true);
    const plain = await fetchFile('127.0.0.1', 'f', { port });
    expect(plain.data.equals(FILE)).toBe(true);
  }, 120_000);
});
