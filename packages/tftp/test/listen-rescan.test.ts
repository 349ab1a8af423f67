/**
 * A '0.0.0.0' listen serves addresses that appear after it started (a bridge that gets carrier late, a USB
 * NIC) and lets go of addresses that vanish. The server runs in a namespace of its own whose veth gets its
 * address only after the server is up; real clients (tftp-hpa, curl) fetch from that address.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createVethPair,
  isRoot,
  type NetNs,
  type Peer,
  requireTool,
  startPeer,
  type VethLink,
  waitFor,
} from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFile, sha256File, tempDir } from './helpers.js';

const here = import.meta.dirname;
const RESCAN_MS = 200;

interface ServerLine {
  ready?: boolean;
  port?: number;
  addresses?: string[];
  log?: string;
  msg?: string;
  event?: string;
  file?: string;
  error?: string;
  address?: string;
}

/** The server fixture in `ns`: its port once ready, and every line it printed. */
async function startWildcardServer(
  ns: NetNs,
  root: string,
  rescanMs: number,
  mode?: 'single-port',
): Promise<{ peer: Peer; port: number; addresses: string[]; lines: ServerLine[] }> {
  const lines: ServerLine[] = [];
  const peer = startPeer([
    ...ns.prefix,
    process.execPath,
    '--import',
    'tsx',
    join(here, 'fixtures/wildcard-server.ts'),
    root,
    String(rescanMs),
    ...(mode ? [mode] : []),
  ]);
  peer.proc.stdout?.on('data', (chunk: Buffer) => {
    for (const text of chunk.toString().split('\n'))
      if (text.startsWith('{')) lines.push(JSON.parse(text) as ServerLine);
  });
  await waitFor(() => lines.some((l) => l.ready), 30_000).catch((e) => {
    throw new Error(`${(e as Error).message}\n${peer.output()}`);
  });
  const ready = lines.find((l) => l.ready) as ServerLine;
  return { peer, port: ready.port ?? 0, addresses: ready.addresses ?? [], lines };
}

/** UDP sockets bound in `ns` on `port` (local addresses), from `ss`. */
async function boundAddresses(ns: NetNs, port: number): Promise<string[]> {
  const out = await ns.exec('ss', ['-Hnlu']);
  return out
    .split('\n')
    .map((row) => row.trim().split(/\s+/)[3] ?? '')
    .filter((local) => local.endsWith(`:${port}`))
    .map((local) => local.slice(0, local.lastIndexOf(':')));
}

/** Wait until the server has logged `what` ('appeared' or 'gone') for `address` `times` times. */
async function waitForLog(lines: ServerLine[], what: 'appeared' | 'gone', address: string, times = 1) {
  const count = () => lines.filter((l) => l.msg?.includes(what) && l.address === address).length;
  await waitFor(() => count() >= times, 10_000);
}

/** tftp-hpa in `ns` fetches `file` from `address`:`port` into `out`. */
async function hpaGet(ns: NetNs, address: string, port: number, file: string, out: string): Promise<void> {
  await ns.exec(requireTool('tftp'), [address, String(port), '-m', 'binary', '-c', 'get', file, out], {
    timeoutMs: 30_000,
  });
}

describe.runIf(isRoot())("a '0.0.0.0' listen follows the host's addresses", () => {
  let link: VethLink;
  let server: NetNs;
  let client: NetNs;
  let serverIf: string;
  let serverAddress: string;
  let dir: string;
  let cleanup: () => Promise<void>;
  let sum: string;
  const peers: Peer[] = [];

  beforeAll(async () => {
    requireTool('ss');
    ({ dir, cleanup } = await tempDir('rescan'));
    sum = await makeFile(join(dir, 'start4.elf'), 300 * 1024 + 17);
    link = await createVethPair('tfrs');
    ({ a: server, b: client, ifA: serverIf, addrA: serverAddress } = link);
    // The server's side stays up without its address: a bridge or USB NIC that is configured later.
    await removeServerAddress();
  }, 60_000);

  afterAll(async () => {
    for (const peer of peers) await peer.stop();
    await link?.destroy();
    await cleanup?.();
  });

  async function addServerAddress(): Promise<void> {
    await server.exec('ip', ['addr', 'add', `${serverAddress}/24`, 'dev', serverIf]);
  }
  async function removeServerAddress(): Promise<void> {
    await server.exec('ip', ['addr', 'del', `${serverAddress}/24`, 'dev', serverIf]);
  }

  it('binds an address added after listen, tftp-hpa fetches from it; drops it when it goes and rebinds it when it returns', async () => {
    const started = await startWildcardServer(server, dir, RESCAN_MS);
    peers.push(started.peer);
    expect(started.addresses).toEqual(['127.0.0.1']);

    const addedAt = performance.now();
    await addServerAddress();
    await waitForLog(started.lines, 'appeared', serverAddress);
    const out = join(dir, 'hpa-out');
    await hpaGet(client, serverAddress, started.port, 'start4.elf', out);
    expect(await sha256File(out)).toBe(sum);
    console.log(`address added to file fetched: ${Math.round(performance.now() - addedAt)} ms`);
    expect(await boundAddresses(server, started.port)).toEqual(
      expect.arrayContaining(['127.0.0.1', serverAddress]),
    );

    await removeServerAddress();
    await waitForLog(started.lines, 'gone', serverAddress);
    expect(await boundAddresses(server, started.port)).toEqual(['127.0.0.1']);

    // Back again (a cable replugged): served again, from a new socket.
    await addServerAddress();
    await waitForLog(started.lines, 'appeared', serverAddress, 2);
    const again = join(dir, 'curl-out');
    await client.exec(
      requireTool('curl'),
      ['-sS', '--max-time', '20', '-o', again, `tftp://${serverAddress}:${started.port}/start4.elf`],
      { timeoutMs: 30_000 },
    );
    expect(await sha256File(again)).toBe(sum);
    expect(started.lines.filter((l) => l.log === 'warn' || l.log === 'error')).toEqual([]);
    await started.peer.stop();
    await removeServerAddress();
  }, 120_000);

  it('without rescanning (rescanIntervalMs 0) an address added later is not served', async () => {
    const started = await startWildcardServer(server, dir, 0);
    peers.push(started.peer);
    await addServerAddress();
    // Longer than many rescan intervals would take.
    await new Promise((resolve) => setTimeout(resolve, 10 * RESCAN_MS));
    const result = await execa(
      'ip',
      [
        'netns',
        'exec',
        client.name,
        requireTool('curl'),
        '-sS',
        '--max-time',
        '3',
        '-o',
        join(dir, 'never'),
        `tftp://${serverAddress}:${started.port}/start4.elf`,
      ],
      { reject: false, timeout: 20_000 },
    );
    expect(result.exitCode).not.toBe(0);
    expect(await boundAddresses(server, started.port)).toEqual(['127.0.0.1']);
    await started.peer.stop();
    await removeServerAddress();
  }, 60_000);

  it('on a host with no address at all the wildcard stands in, and gives way to the first address', async () => {
    await server.exec('ip', ['link', 'set', 'lo', 'down']);
    try {
      const started = await startWildcardServer(server, dir, RESCAN_MS);
      peers.push(started.peer);
      expect(started.addresses).toEqual(['0.0.0.0']);
      await addServerAddress();
      await waitForLog(started.lines, 'appeared', serverAddress);
      expect(await boundAddresses(server, started.port)).toEqual([serverAddress]);
      const out = join(dir, 'atftp-out');
      await client.exec(
        requireTool('atftp'),
        ['-g', '-r', 'start4.elf', '-l', out, serverAddress, String(started.port)],
        { timeoutMs: 30_000 },
      );
      expect(await sha256File(out)).toBe(sum);
      await started.peer.stop();
      await removeServerAddress();
    } finally {
      await server.exec('ip', ['link', 'set', 'lo', 'up']);
    }
  }, 60_000);

  it('single-port mode: the address vanishing under a running transfer fails that transfer, never the server', async () => {
    await makeFile(join(dir, 'big.img'), 64 * 1024 * 1024);
    const started = await startWildcardServer(server, dir, RESCAN_MS, 'single-port');
    peers.push(started.peer);
    await addServerAddress();
    await waitForLog(started.lines, 'appeared', serverAddress);
    // tftp-hpa, lock-step 512-byte blocks: 64 MiB takes far longer than the steps below.
    const out = join(dir, 'big-out');
    const slow = startPeer([
      ...client.prefix,
      requireTool('tftp'),
      serverAddress,
      String(started.port),
      '-m',
      'binary',
      '-c',
      'get',
      'big.img',
      out,
    ]);
    peers.push(slow);
    await waitFor(async () => ((await stat(out).catch(() => undefined))?.size ?? 0) > 0, 20_000);
    await removeServerAddress();
    await waitForLog(started.lines, 'gone', serverAddress);
    // The transfer's retransmissions (200 ms doubling, 3 retries) now have no socket: it fails after them.
    await waitFor(() => started.lines.some((l) => l.event === 'failed' && l.file === 'big.img'), 60_000);
    expect(started.lines.find((l) => l.event === 'failed')?.error).toBe('TIMEOUT');
    await slow.stop();
    expect(started.peer.proc.exitCode, started.peer.output()).toBeNull();
    await addServerAddress();
    await waitForLog(started.lines, 'appeared', serverAddress, 2);
    const small = join(dir, 'after-out');
    await hpaGet(client, serverAddress, started.port, 'start4.elf', small);
    expect(await sha256File(small)).toBe(sum);
    await started.peer.stop();
    await removeServerAddress();
  }, 120_000);
});
