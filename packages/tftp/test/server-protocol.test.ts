/** Wire-level server behaviour: RFC 2347 negotiation, Sorcerer's Apprentice, TIDs, errors, timeouts, rollover. */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, fetchFile, type ServerOptions, TftpServer } from '../src/index.js';
import { ENGINE, sha256 } from './helpers.js';
import { RawPeer } from './raw-peer.js';

const FILE = randomBytes(3000);
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(opts: Partial<ServerOptions> = {}, files: Record<string, Buffer> = { f: FILE }) {
  const server = createServer({
    handler: (req) => files[req.file] ?? null,
    timeoutMs: 2000,
    engine: ENGINE,
    ...opts,
  });
  const events: { kind: string; ev: import('../src/index.js').TransferEvent }[] = [];
  for (const kind of ['request', 'start', 'complete', 'aborted', 'failed'] as const)
    server.on(kind, (ev) => events.push({ kind, ev }));
  const { port } = await server.listen({ address: '127.0.0.1', port: 0 });
  cleanups.push(() => server.close({ deadlineMs: 50 }));
  return { server, port, events };
}

async function peer(): Promise<RawPeer> {
  const p = await RawPeer.open();
  cleanups.push(() => p.close());
  return p;
}

describe('RFC 2347 option negotiation', () => {
  it('echoes only accepted options, in request order, clamping blksize/windowsize and answering tsize', async () => {
    const { port } = await serve({ blksizeMax: 1468, windowsizeMax: 8 });
    const p = await peer();
    p.send(
      {
        op: 1,
        filename: 'f',
        mode: 'octet',
        options: {
          foo: 'bar',
          windowsize: '1000',
          tsize: '0',
          blksize: '100000',
          timeout: '3',
          utimeout: '5',
        },
      },
      port,
    );
    const r = await p.next();
    expect(r?.packet).toEqual({
      op: 6,
      options: { windowsize: '8', tsize: '3000', blksize: '1468', timeout: '3' },
    });
    expect(Object.keys((r!.packet as { options: object }).options)).toEqual([
      'windowsize',
      'tsize',
      'blksize',
      'timeout',
    ]);
    // RFC 2347 §2: after the OACK the client acknowledges block 0, then DATA 1 follows from the same TID.
    p.send({ op: 4, block: 0 }, r?.rinfo.port as number);
    const d = await p.next();
    expect(d?.packet?.op).toBe(3);
    expect(d?.rinfo.port).toBe(r?.rinfo.port);
    expect((d!.packet as { data: Buffer }).data.length).toBe(1468);
  });

  it('answers DATA 1 (not an empty OACK) when no option survives', async () => {
    const { port } = await serve();
    const p = await peer();
    p.send({ op: 1, filename: 'f', mode: 'OCTET', options: { blksize: '4', unknown: 'x' } }, port);
    const r = await p.next();
    expect(r?.packet?.op).toBe(3);
    expect((r!.packet as { block: number }).block).toBe(1);
    expect((r!.packet as { data: Buffer }).data.length).toBe(512);
  });

  it('a missing file answers ERROR 1 as the first reply', async () => {
    const { port, events } = await serve();
    const p = await peer();
    p.send({ op: 1, filename: 'missing', mode: 'octet', options: { tsize: '0' } }, port);
    const r = await p.next();
    expect(r?.packet).toEqual({ op: 5, code: 1, message: 'File not found' });
    expect(events.find((e) => e.kind === 'failed')?.ev.error?.code).toBe('NOT_FOUND');
  });

  it('refuses unsupported modes and writes without a write handler', async () => {
    const { port } = await serve();
    const p = await peer();
    p.send({ op: 1, filename: 'f', mode: 'mail', options: {} }, port);
    expect((await p.next())?.packet).toMatchObject({ op: 5, code: 4 });
    p.send({ op: 2, filename: 'f', mode: 'octet', options: {} }, port);
    expect((await p.next())?.packet).toMatchObject({ op: 5, code: 2 });
  });
});

describe('transfer state machine', () => {
  it("never resends on a duplicate ACK (Sorcerer's Apprentice, RFC 1123 §4.2.3.1)", async () => {
    const { port } = await serve({ timeoutMs: 5000 });
    const p = await peer();
    p.send({ op: 1, filename: 'f', mode: 'octet', options: {} }, port);
    const d1 = await p.next();
    const tid = d1?.rinfo.port as number;
    p.send({ op: 4, block: 1 }, tid);
    p.send({ op: 4, block: 1 }, tid);
    p.send({ op: 4, block: 1 }, tid);
    const got = await p.drain(300);
    expect(got.map((g) => g.packet)).toHaveLength(1);
    expect(got[0]?.packet).toMatchObject({ op: 3, block: 2 });
  });

  it('answers ERROR 5 to an unknown TID without disturbing the transfer', async () => {
    const { port, events } = await serve();
    const p = await peer();
    const intruder = await peer();
    p.send({ op: 1, filename: 'f', mode: 'octet', options: {} }, port);
    const d1 = await p.next();
    const tid = d1?.rinfo.port as number;
    intruder.send({ op: 4, block: 1 }, tid);
    expect((await intruder.next())?.packet).toMatchObject({ op: 5, code: 5 });
    const parts = [(d1!.packet as { data: Buffer }).data];
    for (let b = 1; b <= 6; b++) {
      p.send({ op: 4, block: b }, tid);
      const d = await p.next();
      const pk = d?.packet as { op: number; block: number; data: Buffer };
      expect(pk.block).toBe(b + 1);
      parts.push(pk.data);
      if (pk.data.length < 512) {
        p.send({ op: 4, block: b + 1 }, tid);
        break;
      }
    }
    expect(Buffer.concat(parts).equals(FILE)).toBe(true);
    await expect.poll(() => events.some((e) => e.kind === 'complete')).toBe(true);
  });

  it('a client ERROR after the OACK (firmware size probe) is an abort, not a failure', async () => {
    const { port, events } = await serve();
    const p = await peer();
    p.send({ op: 1, filename: 'f', mode: 'octet', options: { tsize: '0', blksize: '1024' } }, port);
    const oack = await p.next();
    expect(oack?.packet).toMatchObject({ op: 6, options: { tsize: '3000' } });
    p.send({ op: 5, code: 8, message: 'Early terminate' }, oack?.rinfo.port as number);
    await expect.poll(() => events.find((e) => e.kind === 'aborted')).toBeTruthy();
    const ab = events.find((e) => e.kind === 'aborted')?.ev;
    expect(ab?.error?.code).toBe('REMOTE_ERROR');
    expect(events.some((e) => e.kind === 'failed')).toBe(false);
    // No retransmission of the OACK afterwards.
    expect(await p.drain(200)).toHaveLength(0);
  });

  it('retransmits on timeout with a retry limit, then fails with TIMEOUT', async () => {
    const { port, events } = await serve({ timeoutMs: 40, retries: 2 });
    const p = await peer();
    p.send({ op: 1, filename: 'f', mode: 'octet', options: {} }, port);
    const got = await p.drain(1500);
    const data = got.filter((g) => g.packet?.op === 3);
    expect(data.length).toBe(3); // first send + 2 retransmissions
    for (const d of data) expect(d.packet).toMatchObject({ block: 1 });
    await expect.poll(() => events.find((e) => e.kind === 'failed')).toBeTruthy();
    const f = events.find((e) => e.kind === 'failed')?.ev;
    expect(f?.error?.code).toBe('TIMEOUT');
    expect(f?.retransmits).toBe(2);
  });
});

describe('final ACK', () => {
  it('a missing final ACK (client exited, ACK lost) completes with finalAckMissing, as dnsmasq does', async () => {
    const { port, events } = await serve({ timeoutMs: 30, retries: 1 }, { tiny: Buffer.from('hello') });
    const p = await peer();
    p.send({ op: 1, filename: 'tiny', mode: 'octet', options: {} }, port);
    expect((await p.next())?.packet).toMatchObject({ op: 3, block: 1 });
    await expect.poll(() => events.find((e) => e.kind === 'complete')).toBeTruthy();
    const c = events.find((e) => e.kind === 'complete')?.ev;
    expect(c?.finalAckMissing).toBe(true);
    expect(c?.bytes).toBe(5);
    expect(events.some((e) => e.kind === 'failed')).toBe(false);
  });
});

describe('block-number rollover (blksize 8, 65536+ blocks)', () => {
  const big = randomBytes(65536 * 8 + 3);
  it('wrap to 0 (default) and wrap to 1 both arrive intact; refuse gives a clear error', async () => {
    for (const rollover of ['wrap0', 'wrap1'] as const) {
      const { port, events } = await serve({ rollover }, { big });
      const { data, stats } = await fetchFile('127.0.0.1', 'big', { port, blksize: 8, windowsize: 64 });
      expect(sha256(data), rollover).toBe(sha256(big));
      expect(stats.blocks).toBe(65537);
      await expect.poll(() => events.some((e) => e.kind === 'complete')).toBe(true);
    }
    const { port } = await serve({ rollover: 'refuse' }, { big });
    const e = await fetchFile('127.0.0.1', 'big', { port, blksize: 8, windowsize: 64 }).catch((x) => x);
    expect(e.code).toBe('REMOTE_ERROR');
    expect(e.remoteMessage).toMatch(/too large/i);
  }, 60_000);
});

describe('server API', () => {
  it('rejects invalid options with a typed error', () => {
    expect(() => createServer({ handler: () => null, blksizeMax: 4 })).toThrowError(
      /invalid TFTP server options/,
    );
    try {
      createServer({ handler: () => null, portRange: [2000, 1000] });
    } catch (e) {
      expect((e as { code: string }).code).toBe('INVALID_OPTIONS');
    }
  });

  it('TftpServer is exported and close() on a never-listening server resolves', async () => {
    const s = new TftpServer({ handler: () => null });
    await s.close();
  });
});
