/**
 * brambled against a hostile LAN (issue 12): floods of real TFTP datagrams with made-up serials,
 * requests for a known node's files from other addresses, and oversized manifests. Everything a
 * datagram can grow is bounded; a node's identity comes only from the manifest.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildClientMessage, encodeMessage } from '@bramble/dhcp';
import { MAX_MANIFEST_BYTES, ManifestTooLargeError } from '@bramble/manifest';
import { freeUdpPort, waitFor } from '@bramble/testkit';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type Daemon, DEFAULT_DISCOVERY_LIMITS, maxFileBytes, startDaemon } from '../src/index.js';
import { httpGet, tempDir, writeTree } from './helpers.js';

const running: Daemon[] = [];
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.close({ deadlineMs: 500 });
});

interface Started {
  daemon: Daemon;
  dir: string;
  logs: Array<Record<string, unknown>>;
}

async function start(
  tag: string,
  o: { yamlTail?: string; nodes?: string; dir?: string; dhcpPort?: number } = {},
): Promise<Started> {
  const dir = o.dir ?? (await tempDir(tag));
  const nodes = o.nodes ?? "  - { hostname: rpi-a, serial: '1a2b3c01', image: img }";
  await writeTree(join(dir, 'state', 'tftp'), { '1a2b3c01/start4.elf': 'A-start4' });
  await writeFile(
    join(dir, 'bramble.yaml'),
    `server: { address: 127.0.0.1 }
stateDir: ./state
tftp: { listen: '127.0.0.1:0' }
http: { listen: '127.0.0.1:0' }
images: { img: ./img.xz }
nodes:
${nodes}
${o.yamlTail ?? ''}`,
  );
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const daemon = await startDaemon({
    manifestPath: join(dir, 'bramble.yaml'),
    logger,
    watch: false,
    ...(o.dhcpPort !== undefined ? { proxyDhcp: true, dhcpPort: o.dhcpPort, pxePort: false } : {}),
  });
  running.push(daemon);
  return { daemon, dir, logs };
}

function rrq(file: string): Buffer {
  return Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`, 'latin1')]);
}

async function bindClient(address: string): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.on('message', () => {}); // the daemon answers with ERROR packets; ignore them
  await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
  return socket;
}

/**
 * Send read requests as real datagrams from `from` (default: a loopback address per 50 requests,
 * 127.1.x.y, below the server's per-client limit), each from its own source port (a TFTP server
 * ignores a second request from a port whose transfer is running), one after the other: each
 * is resent (at most 5 times) until the daemon counted it, since a loaded machine drops UDP.
 */
async function flood(daemon: Daemon, files: string[], from?: string): Promise<void> {
  const { port } = daemon.tftpAddress();
  for (const [index, file] of files.entries()) {
    const group = Math.floor(index / 50);
    const source = from ?? `127.1.${group % 250}.${1 + Math.floor(group / 250)}`;
    const before = daemon.metrics.requests;
    let counted = false;
    for (let attempt = 0; attempt < 5 && !counted; attempt++) {
      const socket = await bindClient(source);
      try {
        await new Promise<void>((resolve, reject) =>
          socket.send(rrq(file), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
        );
        counted = await waitFor(() => daemon.metrics.requests > before, 2000, 1).then(
          () => true,
          () => false,
        );
      } finally {
        socket.close();
      }
    }
    if (!counted) throw new Error(`the daemon never counted the request for ${file}`);
  }
}

const serials = (count: number, offset = 0) =>
  Array.from({ length: count }, (_, i) => (0x50000000 + offset + i).toString(16));

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);

describe('brambled discovery under a flood of unknown serials', () => {
  it('keeps at most the default 1024 Pis, rate-limits the log and writes discovered.json rarely and bounded', async () => {
    const { daemon, dir, logs } = await start('flood');
    const count = 3000;
    await flood(
      daemon,
      serials(count).map((serial) => `${serial}/start4.elf`),
    );
    expect(DEFAULT_DISCOVERY_LIMITS.maxEntries).toBe(1024);
    const listed = daemon.discovered();
    expect(listed).toHaveLength(1024);
    // Least recently seen evicted first: the newest 1024 serials are the ones kept.
    expect(new Set(listed.map((pi) => pi.id))).toEqual(new Set(serials(count).slice(-1024)));
    const metrics = (await httpGet(daemon.httpAddress()?.port ?? 0, '/metrics')).body;
    expect(metric(metrics, 'bramble_discovered_pis')).toBe(1024);
    expect(metric(metrics, 'bramble_discovered_evicted_total')).toBe(count - 1024);
    expect(metric(metrics, 'bramble_discovered_log_suppressed_total')).toBe(count - 10);
    expect(logs.filter((line) => line.event === 'discovered')).toHaveLength(10);
    // Nothing else logs per datagram either (failed requests of unknown Pis are debug lines).
    expect(logs.length).toBeLessThan(30);
    await daemon.close({ deadlineMs: 500 });
    const file = join(dir, 'state', 'discovered.json');
    const written = JSON.parse(await readFile(file, 'utf8')) as { pis: unknown[] };
    expect(written.pis).toHaveLength(1024);
    expect((await stat(file)).size).toBeLessThanOrEqual(maxFileBytes({ maxEntries: 1024 }));
    // Debounced: a handful of writes for 3000 sightings (one per 2 s while the flood lasts, plus close).
    expect(daemon.metrics.discoveryWrites).toBeGreaterThanOrEqual(1);
    expect(daemon.metrics.discoveryWrites).toBeLessThan(count / 100);
  }, 180_000);

  it('honours a configured cap and expires Pis not seen for expireAfterSeconds', async () => {
    const { daemon } = await start('expire', {
      yamlTail: 'discovery: { maxEntries: 50, expireAfterSeconds: 1 }',
    });
    await flood(
      daemon,
      serials(80).map((serial) => `${serial}/start.elf`),
    );
    expect(daemon.discovered()).toHaveLength(50);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await flood(daemon, ['6fffffff/config.txt']);
    expect(daemon.discovered().map((pi) => [pi.id, pi.model])).toEqual([['6fffffff', 'pi5']]);
  }, 120_000);

  it('does not load an oversized discovered.json left by an older version', async () => {
    const dir = await tempDir('oversized');
    const now = new Date().toISOString();
    const pis = serials(5000).map((id) => ({
      id,
      serial: id,
      model: 'pi4',
      address: '10.0.0.9',
      via: 'tftp',
      firstFile: `${id}/${'x'.repeat(300)}`,
      firstSeen: now,
      lastSeen: now,
      requests: 1,
    }));
    const text = JSON.stringify({ version: 1, pis });
    expect(text.length).toBeGreaterThan(maxFileBytes({ maxEntries: 1024 }));
    await writeTree(join(dir, 'state'), { 'discovered.json': text });
    const { daemon } = await start('oversized', { dir });
    expect(daemon.discovered()).toEqual([]);
  });
});

describe("brambled keeps a node's identity from the manifest", () => {
  const nodes = [
    "  - { hostname: rpi-a, serial: '1a2b3c01', image: img, address: 127.0.0.5 }",
    "  - { hostname: rpi-b, serial: '1a2b3c02', image: img }",
  ].join('\n');

  it('records a request from another address as a conflict and never re-pins the address', async () => {
    const { daemon, logs } = await start('conflict', { nodes });
    await flood(daemon, ['1a2b3c01/start4.elf', '1a2b3c01/config.txt'], '127.0.0.1');
    await flood(daemon, ['1a2b3c02/start4.elf'], '127.0.0.6');
    await flood(daemon, ['1a2b3c02/start4.elf', '1a2b3c02/config.txt'], '127.0.0.7');
    const http = daemon.httpAddress()?.port ?? 0;
    const listed = JSON.parse((await httpGet(http, '/nodes')).body) as Array<Record<string, unknown>>;
    const [a, b] = listed;
    expect(a).toMatchObject({
      hostname: 'rpi-a',
      address: '127.0.0.5',
      lastSeenFrom: '127.0.0.1',
      addressConflict: { from: '127.0.0.1', expected: '127.0.0.5', count: 2 },
    });
    // No configured address: the first source is the reference, and stays out of `address`.
    expect(b?.address).toBeUndefined();
    expect(b).toMatchObject({
      hostname: 'rpi-b',
      firstSeenFrom: '127.0.0.6',
      lastSeenFrom: '127.0.0.7',
      addressConflict: { from: '127.0.0.7', expected: '127.0.0.6', count: 2 },
    });
    const metrics = (await httpGet(http, '/metrics')).body;
    expect(metric(metrics, 'bramble_node_address_conflicts_total')).toBe(4);
    // One log line per new conflicting source, not per request.
    expect(
      logs.filter((line) => line.event === 'address-conflict').map((line) => [line.node, line.from]),
    ).toEqual([
      ['rpi-a', '127.0.0.1'],
      ['rpi-b', '127.0.0.7'],
    ]);
    // The manifest's identity survives a reload too.
    await daemon.reload('test');
    expect(daemon.nodes()[0]?.address).toBe('127.0.0.5');
    expect(daemon.nodes()[1]?.address).toBeUndefined();
  }, 60_000);
});

describe('brambled proxyDHCP does not reflect', () => {
  it('refuses a relayed DISCOVER naming an off-subnet relay and answers one on its own subnet', async () => {
    const dhcpPort = await freeUdpPort();
    const { daemon } = await start('relay', { dhcpPort, yamlTail: 'dhcp: { listen: 127.0.0.1 }' });
    const socket = await bindClient('127.0.0.1');
    const discover = (xid: number, giaddr: string) => {
      const message = buildClientMessage({
        kind: 'pi4',
        type: 'discover',
        mac: 'dc:a6:32:01:36:c2',
        serial: '0660cd37',
        xid,
      });
      message.giaddr = giaddr;
      return encodeMessage(message);
    };
    try {
      for (const [xid, giaddr] of [
        [1, '203.0.113.7'],
        [2, '127.0.0.1'], // a relay on the server's own subnet (loopback here) is answered
      ] as const)
        await new Promise<void>((resolve, reject) =>
          socket.send(discover(xid, giaddr), dhcpPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
        );
      await waitFor(() => daemon.metrics.dhcpClients >= 2 && daemon.metrics.dhcpOffers >= 1, 10_000);
    } finally {
      socket.close();
    }
    const metrics = (await httpGet(daemon.httpAddress()?.port ?? 0, '/metrics')).body;
    expect(metric(metrics, 'bramble_dhcp_refused_total')).toBe(1);
    expect(metric(metrics, 'bramble_dhcp_offers_total')).toBe(1);
  }, 60_000);
});

describe('brambled refuses oversized manifests', () => {
  it('does not start on a manifest over 1 MiB (typed error naming the file and the limit)', async () => {
    const dir = await tempDir('big');
    const file = join(dir, 'bramble.yaml');
    await writeFile(file, 'server: { address: 127.0.0.1 }\n# ');
    await truncate(file, 150 * 1000 * 1000);
    const error = await startDaemon({ manifestPath: file, watch: false, httpListen: false }).then(
      (daemon) => {
        running.push(daemon);
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ManifestTooLargeError);
    expect(error).toMatchObject({ code: 'MANIFEST_TOO_LARGE', file, limitBytes: MAX_MANIFEST_BYTES });
  });

  it('rejects an oversized manifest on reload and keeps serving the old one', async () => {
    const { daemon, dir } = await start('big-reload');
    const file = join(dir, 'bramble.yaml');
    await writeFile(file, `${await readFile(file, 'utf8')}\n# ${'x'.repeat(MAX_MANIFEST_BYTES)}\n`);
    const result = await daemon.reload('test');
    expect(result).toEqual({
      ok: false,
      problems: [
        {
          path: '',
          message: `larger than the ${MAX_MANIFEST_BYTES}-byte manifest limit; a bramble.yaml is a few KiB`,
        },
      ],
    });
    expect(daemon.nodes().map((node) => node.hostname)).toEqual(['rpi-a']);
    expect(daemon.metrics.reloads.rejected).toBe(1);
  });
});
