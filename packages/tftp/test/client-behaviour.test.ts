/** Client behaviour against a scripted raw server: timeouts, abort, OACK checks, unknown TIDs, logger. */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, fetchFile, probeSize, TftpAbortError, TftpTimeoutError } from '../src/index.js';
import { makeFile, startServer, tempDir } from './helpers.js';
import { RawPeer } from './raw-peer.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
async function peer(): Promise<RawPeer> {
  const p = await RawPeer.open();
  cleanups.push(() => p.close());
  return p;
}

describe('client', () => {
  it('retransmits the request, then fails with TftpTimeoutError (code TIMEOUT)', async () => {
    const srv = await peer();
    const pending = fetchFile('127.0.0.1', 'f', { port: srv.port, retransmitMs: 30, retries: 2 });
    const e = await pending.catch((x) => x);
    expect(e).toBeInstanceOf(TftpTimeoutError);
    expect(e.code).toBe('TIMEOUT');
    const got = await srv.drain(100);
    expect(got.filter((g) => g.packet?.op === 1)).toHaveLength(3); // RRQ + 2 retransmissions
  });

  it('sends a plain RFC 1350 RRQ when no option is given, and the Pi firmware options when asked', async () => {
    const srv = await peer();
    void fetchFile('127.0.0.1', 'bootcode.bin', { port: srv.port, retries: 0, retransmitMs: 50 }).catch(
      () => {},
    );
    expect((await srv.next())?.packet).toEqual({
      op: 1,
      filename: 'bootcode.bin',
      mode: 'octet',
      options: {},
    });
    void probeSize('127.0.0.1', 'start4.elf', {
      port: srv.port,
      blksize: 1024,
      retries: 0,
      retransmitMs: 50,
    }).catch(() => {});
    const r = await srv.next();
    expect(r?.msg.toString('latin1')).toBe('\0\x01start4.elf\0octet\0tsize\x000\0blksize\x001024\0');
  });

  it('rejects an OACK with an option it did not request (ERROR 8 to the server)', async () => {
    const srv = await peer();
    const tid = await peer();
    const pending = fetchFile('127.0.0.1', 'f', { port: srv.port, blksize: 1024 }).catch((x) => x);
    const rrq = await srv.next();
    tid.send({ op: 6, options: { blksize: '1024', tsize: '10' } }, rrq?.rinfo.port as number);
    const e = await pending;
    expect(e.code).toBe('OPTION_NEGOTIATION');
    expect((await tid.next())?.packet).toMatchObject({ op: 5, code: 8 });
  });

  it('answers ERROR 5 to a second source port and completes with the first', async () => {
    const srv = await peer();
    const tid = await peer();
    const intruder = await peer();
    const pending = fetchFile('127.0.0.1', 'f', { port: srv.port });
    const rrq = await srv.next();
    const client = rrq?.rinfo.port as number;
    tid.send({ op: 3, block: 1, data: Buffer.alloc(512, 1) }, client);
    expect((await tid.next())?.packet).toEqual({ op: 4, block: 1 });
    intruder.send({ op: 3, block: 2, data: Buffer.from('evil') }, client);
    expect((await intruder.next())?.packet).toMatchObject({ op: 5, code: 5 });
    tid.send({ op: 3, block: 2, data: Buffer.from('end') }, client);
    const { data } = await pending;
    expect(data.subarray(512).toString()).toBe('end');
  });

  it('an AbortSignal stops the transfer with TftpAbortError and ERROR 0 to the server', async () => {
    const srv = await peer();
    const tid = await peer();
    const ac = new AbortController();
    const pending = fetchFile('127.0.0.1', 'f', { port: srv.port, signal: ac.signal }).catch((x) => x);
    const rrq = await srv.next();
    tid.send({ op: 3, block: 1, data: Buffer.alloc(512) }, rrq?.rinfo.port as number);
    await tid.next(); // ACK 1
    ac.abort();
    expect(await pending).toBeInstanceOf(TftpAbortError);
    expect((await tid.next())?.packet).toMatchObject({ op: 5, code: 0 });
  });

  it('the server logs through the pino logger it is given', async () => {
    const lines: string[] = [];
    const dest = new Writable({
      write(c, _e, cb) {
        lines.push(c.toString());
        cb();
      },
    });
    const server = createServer({ handler: () => null, logger: pino({ level: 'debug' }, dest) });
    const { port } = await server.listen({ address: '127.0.0.1', port: 0 });
    cleanups.push(() => server.close({ deadlineMs: 10 }));
    await expect(fetchFile('127.0.0.1', 'x', { port })).rejects.toMatchObject({ tftpCode: 1 });
    await expect
      .poll(() =>
        lines.some((l) => l.includes('"request refused"') && l.includes('"component":"tftp-server"')),
      )
      .toBe(true);
  });
});

describe('probeSize early terminate', () => {
  it('aborts with ERROR 8 by default and with the firmware code 0 when asked; the server counts both as aborted', async () => {
    const { dir, cleanup } = await tempDir('probe');
    cleanups.push(cleanup);
    await makeFile(join(dir, 'start4.elf'), 5000);
    const t = await startServer(dir);
    cleanups.push(() => t.close());
    const a = await probeSize('127.0.0.1', 'start4.elf', { port: t.port, blksize: 1024 });
    const b = await probeSize(
      '127.0.0.1',
      'start4.elf',
      { port: t.port },
      { code: 0, message: 'Early terminate' },
    );
    expect(a.size).toBe(5000);
    expect(b.size).toBe(5000);
    const deadline = Date.now() + 5000;
    while (t.events.filter((e) => e.kind === 'aborted').length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const aborted = t.events.filter((e) => e.kind === 'aborted');
    expect(aborted).toHaveLength(2);
    expect(t.events.filter((e) => e.kind === 'failed')).toHaveLength(0);
    expect(aborted.map((e) => (e.ev.error as { tftpCode?: number } | undefined)?.tftpCode)).toEqual([8, 0]);
  });
});
