/**
 * A boot storm against brambled: two network namespaces joined by a veth pair, brambled (proxyDHCP on
 * port 67, TFTP on 69) in one, every virtual Pi in the other, all powered on at once; UDP loss in the
 * Pis' namespace through nftables. Returns what the Pis saw and what brambled recorded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PacingSettings } from '@bramble/manifest';
import { addPacketLoss, createVethPair, type NetNs } from '@bramble/testkit';
import { type PiModel, serialRange } from '@bramble/virtual-pi';
import type { PacingSnapshot } from '../../src/index.js';
import type { StormPisOptions } from './pis.js';
import { type StormSizes, writeStormTree } from './tree.js';

const TSX = join(import.meta.dirname, '../../../../node_modules/.bin/tsx');

export interface StormOptions {
  /** Manifest (known) nodes and unknown Pis (a tree but no manifest entry). */
  known: number;
  unknown: number;
  /** Models of the known nodes, round-robin. */
  models: PiModel[];
  /**
   * Models of the unknown Pis, round-robin. Pi 4/5 keep retrying; a Pi 3 ROM halts after 25 s, so an
   * unknown Pi 3 queued behind known nodes for longer would not boot until power-cycled.
   */
  unknownModels: PiModel[];
  /** UDP loss in percent, each way (dropped on arrival at either end). */
  lossPercent: number;
  /**
   * Capacity of the link towards the Pis, MB/s (10^6), like a server's uplink: packets beyond it
   * (after a 64 KB burst) are dropped, as by a switch with small buffers. 0 = no limit.
   */
  linkMBps: number;
  sizes: StormSizes;
  /** `pacing:` of the manifest (`{ enabled: false }` for the baseline). */
  pacing: Partial<PacingSettings>;
  /** Per-Pi limit, ms. */
  timeoutMs: number;
  restarts: number;
}

export interface ServerBoot {
  state: string;
  startedAt: number;
  firstDiscoverAt?: number;
  firstOfferAt?: number;
  handoverAt?: number;
  lastFileEndAt: number;
  retransmits: number;
}

export interface ServerReport {
  pacing: PacingSnapshot;
  nodes: { node: string; boots: ServerBoot[] }[];
  counters: {
    tftpRequests: number;
    tftpRetransmits: number;
    tftpFailed: number;
    dhcpClients: number;
    dhcpOffers: number;
  };
}

export interface PisReport {
  startedAt: number;
  durationMs: number;
  booted: number;
  failed: number;
  byModel: Record<string, { count: number; booted: number }>;
  reasons: Record<string, number>;
  bootMs: { min: number; p50: number; p95: number; max: number };
  totalBytes: number;
  pis: {
    serial: string;
    model: PiModel;
    verdict: string;
    durationMs: number;
    discovers: number;
    reason?: string;
  }[];
}

export interface StormRun {
  options: StormOptions;
  knownSerials: string[];
  unknownSerials: string[];
  pis: PisReport;
  server: ServerReport;
}

/** A child process whose stdout lines are kept; `line(prefix)` waits for the first line starting with it. */
function child(argv: string[]) {
  const [command, ...args] = argv;
  const proc: ChildProcess = spawn(command ?? 'false', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  proc.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString()).slice(-20_000);
  });
  proc.on('exit', () => {
    for (const wake of waiters.splice(0)) wake();
  });
  const line = async (prefix: string, timeoutMs: number): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = out.split('\n').find((text) => text.startsWith(prefix));
      if (found !== undefined) return found.slice(prefix.length).trim();
      if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline)
        throw new Error(`no '${prefix}' from ${argv.join(' ')}: ${err.slice(-4000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, Math.min(1000, deadline - Date.now())));
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.stdin?.end('stop\n');
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(kill);
  };
  return { proc, line, stop };
}

function manifestYaml(dir: string, server: string, serials: string[], models: PiModel[], pacing: object) {
  const nodes = serials
    .map(
      (serial, index) =>
        `  - { hostname: n${index + 1}, serial: '${serial}', model: ${models[index % models.length]}, image: img }`,
    )
    .join('\n');
  return `server: { address: ${server} }
stateDir: ${dir}
tftp: { listen: '0.0.0.0:69' }
dhcp: { mode: proxy }
pacing: ${JSON.stringify(pacing)}
images: { img: ./img.xz }
nodes:
${nodes}
`;
}

/** Police what arrives in `ns` to `mbps` MB/s: beyond it (and a 64 KB burst) packets are dropped. */
async function addLinkLimit(ns: NetNs, mbps: number): Promise<void> {
  const kbytes = Math.max(1, Math.round(mbps * 1000));
  const table = `table inet bramble_link {
  chain in { type filter hook input priority 10; policy accept; meta l4proto udp limit rate over ${kbytes} kbytes/second burst 64 kbytes drop; }
}`;
  await ns.exec('nft', ['-f', '-'], { input: table });
}

/** Run one storm; namespaces, processes and files are removed afterwards whatever happens. */
export async function runStorm(options: StormOptions): Promise<StormRun> {
  const total = options.known + options.unknown;
  const serials = serialRange('e0000000', total);
  const knownSerials = serials.slice(0, options.known);
  const unknownSerials = serials.slice(options.known);
  const dir = await mkdtemp(join(tmpdir(), 'bramble-storm-'));
  const link = await createVethPair('storm');
  let server: ReturnType<typeof child> | undefined;
  let pis: ReturnType<typeof child> | undefined;
  try {
    await writeStormTree(join(dir, 'tftp'), serials, options.sizes);
    await writeFile(
      join(dir, 'bramble.yaml'),
      manifestYaml(dir, link.addrA, knownSerials, options.models, options.pacing),
    );
    // Limited broadcasts (DISCOVERs, proxy replies) leave through the link's interface.
    await link.a.exec('ip', ['route', 'add', 'default', 'dev', link.ifA]);
    await link.b.exec('ip', ['route', 'add', 'default', 'dev', link.ifB]);
    // Loss on the way in at both ends: like a lossy wire, invisible to the sender.
    if (options.lossPercent > 0) {
      await addPacketLoss(link.a, options.lossPercent, { direction: 'in' });
      await addPacketLoss(link.b, options.lossPercent, { direction: 'in' });
    }
    if (options.linkMBps > 0) await addLinkLimit(link.b, options.linkMBps);
    server = child([
      ...link.a.prefix,
      TSX,
      join(import.meta.dirname, 'server.ts'),
      join(dir, 'bramble.yaml'),
    ]);
    await server.line('READY', 60_000);
    const pisOptions: StormPisOptions = {
      serials,
      models: [
        ...knownSerials.map((_, index) => options.models[index % options.models.length] as PiModel),
        ...unknownSerials.map(
          (_, index) => options.unknownModels[index % options.unknownModels.length] as PiModel,
        ),
      ],
      interface: link.ifB,
      timeoutMs: options.timeoutMs,
      restarts: options.restarts,
    };
    pis = child([...link.b.prefix, TSX, join(import.meta.dirname, 'pis.ts'), JSON.stringify(pisOptions)]);
    const pisReport = JSON.parse(await pis.line('RESULT', options.timeoutMs + 120_000)) as PisReport;
    server.proc.stdin?.write('report\n');
    const serverReport = JSON.parse(await server.line('REPORT', 30_000)) as ServerReport;
    return { options, knownSerials, unknownSerials, pis: pisReport, server: serverReport };
  } finally {
    await pis?.stop();
    await server?.stop();
    await link.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Most known nodes booting at once as brambled saw it: from each boot's first offer to its last file. */
export function peakConcurrentBoots(report: ServerReport): number {
  const edges: [number, number][] = [];
  for (const node of report.nodes)
    for (const boot of node.boots) {
      if (boot.firstOfferAt === undefined) continue;
      const end = Math.max(boot.handoverAt ?? 0, boot.lastFileEndAt, boot.firstOfferAt);
      edges.push([boot.firstOfferAt, 1], [end, -1]);
    }
  // Ends sort before starts at the same instant: a slot freed and taken in the same ms is not an overlap.
  edges.sort((left, right) => left[0] - right[0] || left[1] - right[1]);
  let now = 0;
  let peak = 0;
  for (const [, delta] of edges) {
    now += delta;
    peak = Math.max(peak, now);
  }
  return peak;
}

/** The figures a storm is judged by. */
export function stormFigures(run: StormRun) {
  const discovers = run.pis.pis.reduce((sum, pi) => sum + pi.discovers, 0);
  return {
    pis: run.pis.pis.length,
    booted: run.pis.booted,
    allBooted: run.pis.booted === run.pis.pis.length,
    totalMs: run.pis.durationMs,
    bootMs: run.pis.bootMs,
    reasons: run.pis.reasons,
    byModel: run.pis.byModel,
    retransmits: {
      tftpServer: run.server.counters.tftpRetransmits,
      dhcpDiscovers: discovers,
      dhcpRetries: discovers - run.pis.pis.length,
    },
    server: {
      tftpRequests: run.server.counters.tftpRequests,
      tftpFailed: run.server.counters.tftpFailed,
      dhcpOffers: run.server.counters.dhcpOffers,
      peakConcurrentBootsMeasured: peakConcurrentBoots(run.server),
      pacingPeakBooting: run.server.pacing.peakBooting,
      pacingLimit: run.server.pacing.enabled ? run.server.pacing.maxConcurrentBoots : undefined,
      rescuedAboveLimit: run.server.pacing.rescued,
      admitted: run.server.pacing.admitted,
      released: run.server.pacing.released,
      unanswered: run.server.pacing.unanswered,
    },
  };
}
