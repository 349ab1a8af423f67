import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '@bramble/testkit';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Daemon, startDaemon } from '../src/index.js';
import { httpGet, manifestYaml, sha, tempDir, tftpHpaGet, writeTree } from './helpers.js';

describe('brambled: manifest file watch', () => {
  it('reloads when the manifest file changes (no signal needed)', async () => {
    const dir = await tempDir('watch');
    await writeFile(join(dir, 'bramble.yaml'), manifestYaml({ stateDir: './state' }));
    const d = await startDaemon({ manifestPath: join(dir, 'bramble.yaml'), watch: true, httpListen: false });
    try {
      expect(d.nodes().map((n) => n.hostname)).toEqual(['rpi-a']);
      await writeFile(
        join(dir, 'bramble.yaml'),
        manifestYaml({
          stateDir: './state',
          nodes: [
            { hostname: 'rpi-a', serial: '1a2b3c01' },
            { hostname: 'rpi-b', serial: '1a2b3c02' },
          ],
        }),
      );
      await waitFor(() => d.nodes().length === 2, 10_000);
      expect(d.metrics.reloads.ok).toBe(1);
    } finally {
      await d.close({ deadlineMs: 500 });
    }
  });
});

describe('brambled (in-process) against tftp-hpa', () => {
  let dir: string;
  let daemon: Daemon;
  const big = randomBytes(6 * 1024 * 1024);
  const logs: string[] = [];

  beforeAll(async () => {
    dir = await tempDir('lib');
    await writeTree(join(dir, 'state-a', 'tftp'), {
      'bootcode.bin': 'A-bootcode',
      '1a2b3c01/start4.elf': 'A-start4',
      '1a2b3c01/kernel8.img': big,
    });
    await writeTree(join(dir, 'state-b', 'tftp'), {
      'bootcode.bin': 'B-bootcode',
      '1a2b3c01/start4.elf': 'B-start4',
    });
    await writeFile(join(dir, 'bramble.yaml'), manifestYaml({ stateDir: './state-a' }));
    const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(s) });
    daemon = await startDaemon({ manifestPath: join(dir, 'bramble.yaml'), logger, watch: false });
  });
  afterAll(async () => {
    await daemon?.close({ deadlineMs: 1000 });
  });

  it('serves the state tftp tree and counts it in /metrics and /nodes', async () => {
    const port = daemon.tftpAddress().port;
    expect((await tftpHpaGet(port, '1a2b3c01/start4.elf', dir)).toString()).toBe('A-start4');
    const http = daemon.httpAddress()?.port ?? 0;
    const health = await httpGet(http, '/healthz');
    expect(health.status).toBe(200);
    const metrics = (await httpGet(http, '/metrics')).body;
    expect(metrics).toMatch(/^bramble_tftp_transfers_total\{result="complete"\} 1$/m);
    expect(metrics).toMatch(/^bramble_tftp_bytes_total 8$/m);
    expect(metrics).toMatch(/^bramble_node_last_boot_timestamp_seconds\{node="rpi-a"\} \d+$/m);
    const nodes = JSON.parse((await httpGet(http, '/nodes')).body) as {
      hostname: string;
      files: number;
      lastFile: string;
    }[];
    expect(nodes).toEqual([
      expect.objectContaining({ hostname: 'rpi-a', files: 1, lastFile: '1a2b3c01/start4.elf' }),
    ]);
    expect(logs.some((l) => l.includes('"event":"file"') && l.includes('"node":"rpi-a"'))).toBe(true);
  });

  it('records an unknown serial once, with its model and address, in discovered.json', async () => {
    const port = daemon.tftpAddress().port;
    await expect(tftpHpaGet(port, '9ffefdef/start4.elf', dir)).rejects.toThrow(/Error code 1/);
    await expect(tftpHpaGet(port, '9ffefdef/start4.elf', dir)).rejects.toThrow(/Error code 1/);
    expect(daemon.discovered()).toEqual([
      expect.objectContaining({
        id: '9ffefdef',
        serial: '9ffefdef',
        model: 'pi4',
        address: '127.0.0.1',
        requests: 2,
      }),
    ]);
    await waitFor(async () =>
      (await readFile(join(dir, 'state-a', 'discovered.json'), 'utf8').catch(() => '')).includes('9ffefdef'),
    );
    expect(logs.filter((l) => l.includes('"event":"discovered"'))).toHaveLength(1);
    const metrics = (await httpGet(daemon.httpAddress()?.port ?? 0, '/metrics')).body;
    expect(metrics).toMatch(/^bramble_discovered_pis 1$/m);
  });

  it('reloads mid-transfer without disturbing it, and refuses a bad manifest while serving on', async () => {
    const port = daemon.tftpAddress().port;
    const completeBefore = daemon.metrics.transfers.complete;
    const inFlight = tftpHpaGet(port, '1a2b3c01/kernel8.img', dir);
    // Wait until the transfer has started, then switch the manifest to the other tree.
    await waitFor(() => daemon.metrics.requests >= 4, 10_000, 5);
    await writeFile(join(dir, 'bramble.yaml'), manifestYaml({ stateDir: './state-b' }));
    const ok = await daemon.reload('test');
    expect(ok.ok).toBe(true);
    expect(daemon.metrics.transfers.complete).toBe(completeBefore); // the big transfer was still running
    expect((await tftpHpaGet(port, '1a2b3c01/start4.elf', dir)).toString()).toBe('B-start4');
    expect(sha(await inFlight)).toBe(sha(big));

    await writeFile(join(dir, 'bramble.yaml'), 'server: { address: nope }\nnodes: [ { hostname: X } ]\n');
    const bad = await daemon.reload('test');
    expect(bad.ok).toBe(false);
    if (!bad.ok)
      expect(bad.problems.map((p) => p.path)).toEqual(
        expect.arrayContaining(['server.address', 'nodes[0].hostname']),
      );
    expect((await tftpHpaGet(port, '1a2b3c01/start4.elf', dir)).toString()).toBe('B-start4');
    expect(daemon.manifest.stateDir).toBe(join(dir, 'state-b'));
    const metrics = (await httpGet(daemon.httpAddress()?.port ?? 0, '/metrics')).body;
    expect(metrics).toMatch(/^bramble_manifest_reloads_total\{result="rejected"\} 1$/m);
    expect(logs.some((l) => l.includes('"event":"reload-rejected"'))).toBe(true);
  });
});
