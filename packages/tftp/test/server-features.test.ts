/** Server features: single-port, port range, limits, close, handler swap, pre-bound socket, writes, netascii, remap. */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, fetchFile, put, type ServerOptions, type TransferEvent } from '../src/index.js';
import { ENGINE, tempDir } from './helpers.js';
import { RawPeer } from './raw-peer.js';

const A = randomBytes(200_000);
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
let dir: string;
let rmDir: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup: rmDir } = await tempDir('features'));
});
afterAll(async () => rmDir?.());

async function serve(opts: Partial<ServerOptions> = {}, address: string | string[] = '127.0.0.1') {
  const server = createServer({
    handler: (req) => (req.file === 'a' ? A : null),
    timeoutMs: 500,
    engine: opts.singlePort ? 'auto' : ENGINE, // single-port transfers always run on the TypeScript sender
    ...opts,
  });
  const events: { kind: string; ev: TransferEvent }[] = [];
  for (const kind of ['request', 'start', 'complete', 'aborted', 'failed'] as const)
    server.on(kind, (ev) => events.push({ kind, ev }));
  const { port } = await server.listen({ address, port: 0 });
  cleanups.push(() => server.close({ deadlineMs: 50 }));
  return { server, port, events };
}

async function peer(): Promise<RawPeer> {
  const p = await RawPeer.open();
  cleanups.push(() => p.close());
  return p;
}

describe('transport modes', () => {
  it('single-port mode: every packet from the listening port; concurrent clients demultiplexed', async () => {
    const { port, events } = await serve({ singlePort: true });
    const p = await peer();
    p.send({ op: 1, filename: 'a', mode: 'octet', options: {} }, port);
    const d1 = await p.next();
    expect(d1?.rinfo.port).toBe(port);
    const results = await Promise.all(
      [512, 1024, 1468, 8192].map((blksize) => fetchFile('127.0.0.1', 'a', { port, blksize, windowsize: 4 })),
    );
    for (const r of results) expect(r.data.equals(A)).toBe(true);
    const out = join(dir, 'single-hpa');
    const r = await execa(requireTool('tftp'), [
      '127.0.0.1',
      String(port),
      '-m',
      'binary',
      '-c',
      'get',
      'a',
      out,
    ]);
    expect(r.exitCode).toBe(0);
    expect((await readFile(out)).equals(A)).toBe(true);
    expect(events.filter((e) => e.kind === 'complete')).toHaveLength(5);
  });

  it('per-transfer ports come from portRange', async () => {
    const { port: lo } = await (async () => {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      const a = s.address();
      s.close();
      return a;
    })();
    const { port } = await serve({ portRange: [lo, lo + 3] });
    for (let i = 0; i < 3; i++) {
      const p = await peer();
      p.send({ op: 1, filename: 'a', mode: 'octet', options: {} }, port);
      const d = await p.next();
      expect(d?.rinfo.port).toBeGreaterThanOrEqual(lo);
      expect(d?.rinfo.port).toBeLessThanOrEqual(lo + 3);
      p.send({ op: 5, code: 0, message: 'done' }, d?.rinfo.port as number);
    }
  });

  it('replies from the local address each request arrived on', async () => {
    const { port, events } = await serve({}, ['127.0.0.1', '127.0.0.2']);
    for (const host of ['127.0.0.1', '127.0.0.2']) {
      const { data } = await fetchFile(host, 'a', { port, blksize: 1468 }); // the client only accepts replies from `host`
      expect(data.equals(A)).toBe(true);
    }
    const starts = events.filter((e) => e.kind === 'start').map((e) => e.ev.localAddress);
    expect(starts).toEqual(['127.0.0.1', '127.0.0.2']);
  });

  it('serves on a pre-bound socket (systemd socket activation)', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    const { port } = await serve({ socket });
    expect(port).toBe(socket.address().port);
    const { data } = await fetchFile('127.0.0.1', 'a', { port, blksize: 1024 });
    expect(data.equals(A)).toBe(true);
  });
});

describe('limits, close and reload', () => {
  it('maxTransfersPerClient with onLimit "error" answers ERROR 0 busy', async () => {
    const { port } = await serve({ maxTransfersPerClient: 1, onLimit: 'error' });
    const p1 = await peer();
    const p2 = await peer();
    p1.send({ op: 1, filename: 'a', mode: 'octet', options: {} }, port);
    expect((await p1.next())?.packet?.op).toBe(3);
    p2.send({ op: 1, filename: 'a', mode: 'octet', options: {} }, port);
    expect((await p2.next())?.packet).toMatchObject({
      op: 5,
      code: 0,
      message: expect.stringMatching(/busy/i),
    });
  });

  it('maxTransfers with "drop" ignores the request until a slot frees (client retransmits)', async () => {
    const { port } = await serve({ maxTransfers: 1 });
    const p1 = await peer();
    p1.send({ op: 1, filename: 'a', mode: 'octet', options: {} }, port);
    const d = await p1.next();
    const pending = fetchFile('127.0.0.1', 'a', { port, retransmitMs: 100, retries: 20 });
    await new Promise((r) => setTimeout(r, 150));
    p1.send({ op: 5, code: 0, message: 'stop' }, d?.rinfo.port as number);
    const { data, stats } = await pending;
    expect(data.equals(A)).toBe(true);
    expect(stats.retransmits).toBeGreaterThan(0);
  });

  it('close() waits for the deadline, then aborts with ERROR 0 and a failed event', async () => {
    const { server, port, events } = await serve();
    const p = await peer();
    p.send({ op: 1, filename: 'a', mode: 'octet', options: {} }, port);
    await p.next();
    await server.close({ deadlineMs: 100 });
    const f = events.find((e) => e.kind === 'failed');
    expect(f?.ev.error?.code).toBe('SHUTDOWN');
    const got = await p.drain(300);
    expect(got.some((g) => g.packet?.op === 5 && (g.packet as { code: number }).code === 0)).toBe(true);
    expect(server.activeTransfers).toBe(0);
  });

  it('setHandler swaps atomically; a running transfer keeps its source', async () => {
    const B = randomBytes(5000);
    const { server, port } = await serve({ timeoutMs: 5000 });
    const p = await peer();
    p.send({ op: 1, filename: 'a', mode: 'octet', options: {} }, port);
    const d1 = await p.next();
    server.setHandler(() => B);
    const { data } = await fetchFile('127.0.0.1', 'a', { port });
    expect(data.equals(B)).toBe(true);
    const parts = [(d1!.packet as { data: Buffer }).data];
    for (let b = 1; b < 400; b++) {
      p.send({ op: 4, block: b }, d1?.rinfo.port as number);
      const pk = (await p.next())?.packet as { data: Buffer };
      parts.push(pk.data);
      if (pk.data.length < 512) break;
    }
    expect(Buffer.concat(parts).equals(A)).toBe(true);
  });
});

describe('writes, netascii and remap', () => {
  function collector(store: Map<string, Buffer>, name: string): Writable {
    const parts: Buffer[] = [];
    return new Writable({
      write(c, _e, cb) {
        parts.push(c as Buffer);
        cb();
      },
      final(cb) {
        store.set(name, Buffer.concat(parts));
        cb();
      },
    });
  }

  it('WRQ from the own client (windowsize 8), tftp-hpa and atftp arrive byte-identical', async () => {
    const store = new Map<string, Buffer>();
    const { port, events } = await serve({ writeHandler: (req) => collector(store, req.file) });
    const st = await put('127.0.0.1', 'up1', A, { port, blksize: 1468, windowsize: 8, tsize: true });
    expect(st.options).toEqual({ tsize: String(A.length), blksize: '1468', windowsize: '8' });
    expect(store.get('up1')?.equals(A)).toBe(true);
    const local = join(dir, 'local-up');
    await writeFile(local, A);
    await execa(requireTool('tftp'), ['127.0.0.1', String(port), '-m', 'binary', '-c', 'put', local, 'up2']);
    await execa(requireTool('atftp'), [
      '--option',
      'blksize 1024',
      '-p',
      '-l',
      local,
      '-r',
      'up3',
      '127.0.0.1',
      String(port),
    ]);
    await expect.poll(() => store.get('up2')?.equals(A) && store.get('up3')?.equals(A)).toBe(true);
    expect(events.filter((e) => e.kind === 'complete' && e.ev.direction === 'write')).toHaveLength(3);
  });

  it('netascii: tftp-hpa and the own client get the original text back', async () => {
    const text = Buffer.from('line one\nline two\r\nbare\rcr\n'.repeat(100));
    const server = createServer({ handler: () => text, timeoutMs: 500 });
    const { port } = await server.listen({ address: '127.0.0.1', port: 0 });
    cleanups.push(() => server.close({ deadlineMs: 50 }));
    const out = join(dir, 'na');
    await execa(requireTool('tftp'), [
      '127.0.0.1',
      String(port),
      '-m',
      'netascii',
      '-c',
      'get',
      't.txt',
      out,
    ]);
    expect((await readFile(out)).equals(text)).toBe(true);
    const { data } = await fetchFile('127.0.0.1', 't.txt', { port, mode: 'netascii' });
    expect(data.equals(text)).toBe(true);
    const p = await peer();
    p.send({ op: 1, filename: 't.txt', mode: 'netascii', options: { tsize: '0', blksize: '1024' } }, port);
    // RFC 2349: no tsize in netascii mode (the size on the wire differs).
    expect((await p.next())?.packet).toEqual({ op: 6, options: { blksize: '1024' } });
  });

  it('remap rules (data) and the rewrite hook', async () => {
    const seen: string[] = [];
    const { port, events } = await serve({
      handler: (req) => {
        seen.push(req.file);
        return req.file === 'boot/a' ? A : null;
      },
      remap: [
        { match: '\\\\', replace: '/', global: true },
        { match: '\\.pvt$', action: 'deny' },
        { match: '^/?pxelinux\\.cfg/(.*)$', replace: 'cfg/{iphex}/$1', stop: true },
      ],
      rewrite: (f) => (f === 'secret' ? null : f === 'A' ? 'boot/a' : f),
    });
    expect((await fetchFile('127.0.0.1', 'A', { port })).data.equals(A)).toBe(true);
    await expect(fetchFile('127.0.0.1', 'x.pvt', { port })).rejects.toMatchObject({ tftpCode: 2 });
    await expect(fetchFile('127.0.0.1', 'secret', { port })).rejects.toMatchObject({ tftpCode: 2 });
    await expect(fetchFile('127.0.0.1', 'pxelinux.cfg\\default', { port })).rejects.toMatchObject({
      tftpCode: 1,
    });
    expect(seen).toEqual(['boot/a', 'cfg/7F000001/default']);
    expect(events.find((e) => e.kind === 'request')?.ev.requestedFile).toBe('A');
  });
});
