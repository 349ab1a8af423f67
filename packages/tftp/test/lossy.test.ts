/**
 * Under 10% packet loss (nftables, each direction), 20 ms delay and reordering (a relay in
 * namespace A), transfers between two namespaces joined by a veth pair complete intact, with retransmits counted.
 */
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

/**
 * Drop `percent`% of UDP datagrams arriving on `ifName` (ingress only: output drops would surface as EPERM
 * from sendto, which tftp-hpa treats as fatal — real loss is invisible to the sender).
 */
async function ingressLoss(ns: NetNs, ifName: string, percent: number): Promise<void> {
  const table = `table inet bramble_tftp_loss {
  chain in { type filter hook input priority 0; policy accept; iifname "${ifName}" meta l4proto udp numgen random mod 100 < ${percent} drop; }
}`;
  await ns.exec('nft', ['-f', '-'], { input: table });
}

describe.runIf(isRoot())('lossy, delayed, reordering link between namespaces', () => {
  let link: VethLink;
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: Peer;
  let relayPort = 0;
  const sums: Record<string, string> = {};
  const events: { kind: string; file: string; retransmits: number }[] = [];

  beforeAll(async () => {
    requireTool('nft');
    ({ dir, cleanup } = await tempDir('lossy'));
    sums.small = await makeFile(join(dir, 'small'), 64 * 1024 + 100);
    sums.medium = await makeFile(join(dir, 'medium'), 512 * 1024 + 7);
    link = await createVethPair('tftl');
    await ingressLoss(link.a, link.ifA, 10);
    await ingressLoss(link.b, link.ifB, 10);
    server = startPeer([
      ...link.a.prefix,
      process.execPath,
      '--import',
      'tsx',
      join(here, 'fixtures/lossy-server.ts'),
      dir,
      link.addrA,
    ]);
    server.proc.stdout?.on('data', (b: Buffer) => {
      for (const line of b.toString().split('\n')) {
        if (!line.startsWith('{')) continue;
        const j = JSON.parse(line);
        if (j.ready) relayPort = j.port;
        else events.push(j);
      }
    });
    await waitFor(() => relayPort > 0, 30_000);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await link?.destroy();
    await cleanup?.();
  });

  it('tftp-hpa client (lock-step, 512) gets the file intact', async () => {
    const out = join(dir, 'out-hpa');
    const r = await link.b.exec(
      requireTool('tftp'),
      [link.addrA, String(relayPort), '-m', 'binary', '-c', 'get', 'small', out],
      {
        timeoutMs: 90_000,
      },
    );
    expect(r).not.toMatch(/Transfer timed out/);
    expect(await sha256File(out)).toBe(sums.small);
  }, 100_000);

  it('own client, windowsize 16 and lock-step, gets files intact and the server counted retransmits', async () => {
    for (const [file, blksize, windowsize] of [
      ['medium', 1468, 16],
      ['small', 1024, 1],
    ] as const) {
      const out = await link.b.exec(
        process.execPath,
        [
          '--import',
          'tsx',
          join(here, 'fixtures/lossy-client.ts'),
          link.addrA,
          String(relayPort),
          file,
          String(blksize),
          String(windowsize),
        ],
        { timeoutMs: 90_000 },
      );
      const j = JSON.parse(out.trim().split('\n').pop() ?? '{}');
      expect(j.sha256, file).toBe(sums[file]);
      console.log(
        `lossy ${file} blksize ${blksize} window ${windowsize}: ${Math.round(j.stats.durationMs)} ms, client retransmits ${j.stats.retransmits}`,
      );
    }
    // When a final ACK (and the client's re-ACKs while it dallies) are lost, the server only completes
    // the transfer (with finalAckMissing) after its retries: 150 ms doubling to 16 s over 8 retries is
    // about 35 s, so wait up to 45 s.
    const done = (f: string) => events.some((e) => e.kind === 'complete' && e.file === f);
    await waitFor(() => done('medium') && done('small'), 45_000);
    const completed = events.filter((e) => e.kind === 'complete');
    expect(completed.reduce((n, e) => n + e.retransmits, 0)).toBeGreaterThan(0);
    expect(events.filter((e) => e.kind === 'failed')).toEqual([]);
  }, 180_000);
});

// Keep requireTool/execa referenced for CI peers (nft is required when running as root).
void execa;
