/**
 * Issue 12 (transfer slots under a request flood): 5,000 never-answered requests from 50 addresses must not
 * lock legitimate Pis out. Requests of known nodes get reserved slots (`classify` + `knownReserve`); a
 * transfer whose client never answers its first packet gives up after `firstReplyTimeoutMs` (not after the
 * ~47 s of the full retry schedule); ICMP port unreachable ends a transfer at once (native pump).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, Opcode } from '../../src/index.js';
import { ENGINE, makeFile, sha256File, startServer, tempDir } from '../helpers.js';
import { RawPeer } from '../raw-peer.js';
import { requestFlood } from './attackers.js';

const curl = requireTool('curl');
const tftp = requireTool('tftp');
const NODE = '7a1b2c3d';
/** A Pi 4's network boot, in order (sizes scaled down). */
const BOOT = [
  ['start4.elf', 2_200_000],
  ['fixup4.dat', 5_400],
  ['config.txt', 180],
  ['bcm2711-rpi-4-b.dtb', 52_000],
  ['cmdline.txt', 120],
  ['kernel8.img', 3_000_000],
] as const;

let dir: string;
let cleanup: () => Promise<void>;
const sums: Record<string, string> = {};

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('flood'));
  await mkdir(join(dir, NODE));
  await mkdir(join(dir, 'deadbeef'));
  for (const [name, size] of BOOT) sums[name] = await makeFile(join(dir, NODE, name), size);
  await makeFile(join(dir, 'deadbeef', 'start4.elf'), 1_000_000);
  await makeFile(join(dir, 'small.bin'), 100_000);
});
afterAll(() => cleanup());

describe('request flood (issue 12)', () => {
  it('a known Pi boots (curl, tftp-hpa) while 5,000 never-answered requests from 50 addresses hold every other slot', async () => {
    const srv = await startServer(dir, {
      maxTransfers: 64,
      knownReserve: 16,
      // Long enough that the flood still holds its slots when the boot ends.
      firstReplyTimeoutMs: 30_000,
      timeoutMs: 1000,
      classify: (request) => (request.file.startsWith(`${NODE}/`) ? 'known' : 'unknown'),
    });
    const flood = await requestFlood({
      port: srv.port,
      file: 'deadbeef/start4.elf',
      addresses: 50,
      perAddress: 100,
    });
    try {
      expect(flood.sent).toBe(5000);
      // Every slot but the reserved ones is taken by the flood.
      for (let i = 0; i < 100 && srv.server.activeTransfers < 48; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(srv.server.activeTransfers).toBe(48);
      const started = performance.now();
      for (const [name] of BOOT) {
        const out = join(dir, `out-${name}`);
        const args =
          name === 'config.txt'
            ? ['127.0.0.1', String(srv.port), '-m', 'binary', '-c', 'get', `${NODE}/${name}`, out]
            : ['-sS', '--tftp-blksize', '1468', '-o', out, `tftp://127.0.0.1:${srv.port}/${NODE}/${name}`];
        const r = await execa(name === 'config.txt' ? tftp : curl, args, { reject: false, timeout: 30_000 });
        expect(r.exitCode, `${name}: ${r.stderr}`).toBe(0);
        expect(await sha256File(out)).toBe(sums[name]);
      }
      const bootMs = performance.now() - started;
      console.log(`Pi boot (6 files) during the flood: ${bootMs.toFixed(0)} ms`);
      // Still during the flood: its transfers hold their slots.
      expect(srv.server.activeTransfers).toBeGreaterThanOrEqual(48);
    } finally {
      flood.close();
      await srv.server.close({ deadlineMs: 0 });
    }
  }, 120_000);

  it('a transfer whose client never answers its OACK gives up after firstReplyTimeoutMs (default 5 s), not the full retry schedule', async () => {
    // Production timing: 1 s timeout doubling, 5 retries (~47 s before today's fix).
    const srv = await startServer(dir, { timeoutMs: 1000, retries: 5 });
    const peer = await RawPeer.open();
    try {
      const started = performance.now();
      peer.send(
        { op: Opcode.RRQ, filename: 'small.bin', mode: 'octet', options: { blksize: '1468' } },
        srv.port,
      );
      const failed = new Promise<number>((resolve) =>
        srv.server.once('failed', (ev) => {
          expect(ev.error?.code).toBe('TIMEOUT');
          resolve(performance.now() - started);
        }),
      );
      const ms = await Promise.race([failed, new Promise<number>((r) => setTimeout(() => r(-1), 9000))]);
      const oacks = (await peer.drain(100)).filter((r) => r.packet?.op === Opcode.OACK).length;
      console.log(`unanswered transfer gave up after ${ms.toFixed(0)} ms, ${oacks} OACKs`);
      expect(ms).toBeGreaterThan(4500);
      expect(ms).toBeLessThan(6500);
      expect(srv.server.activeTransfers).toBe(0);
    } finally {
      peer.close();
      await srv.close();
    }
  }, 30_000);

  it.skipIf(ENGINE === 'js')(
    'ICMP port unreachable from a vanished client ends its transfer at once (native pump)',
    async () => {
      const srv = await startServer(dir, { timeoutMs: 1000, retries: 5 });
      const peer = await RawPeer.open();
      const started = performance.now();
      const failed = new Promise<{ code: string | undefined; ms: number }>((resolve) =>
        srv.server.once('failed', (ev) => resolve({ code: ev.error?.code, ms: performance.now() - started })),
      );
      try {
        peer.send({ op: Opcode.RRQ, filename: 'small.bin', mode: 'octet', options: {} }, srv.port);
        const first = await peer.next(3000);
        expect(first?.packet?.op).toBe(Opcode.DATA);
        // ACK 1, then the client is gone: DATA 2 arrives before it closed, its retransmission (1 s) meets a
        // closed port. The transfer ends there, not after the retry schedule (1+2+4+8+16+16 s).
        peer.send(encode({ op: Opcode.ACK, block: 1 }), first?.rinfo.port as number);
        await new Promise((r) => setTimeout(r, 20));
        peer.close();
        const result = await Promise.race([
          failed,
          new Promise<{ code: string; ms: number }>((r) =>
            setTimeout(() => r({ code: 'none', ms: -1 }), 5000),
          ),
        ]);
        console.log(`transfer to a vanished client ended after ${result.ms.toFixed(0)} ms (${result.code})`);
        expect(result.code).toBe('UNREACHABLE');
        expect(result.ms).toBeLessThan(2000);
      } finally {
        await srv.close();
      }
    },
    30_000,
  );
});
