/**
 * Attack benchmark (issue 12), Bramble's server as a child process on loopback, both engines:
 *  - stall: 300 clients open a read at blksize 65464 / windowsize 64, ACK the OACK and stall; the server's
 *    peak RSS (VmHWM) after the first window and one retransmission round;
 *  - flood: 5,000 never-answered requests from 50 addresses, then a Pi 4 boot (6 files, curl at blksize 1468)
 *    of a node the `classify` hook knows; its duration and whether the flood still held its slots.
 * Writes bench/results/attack.json. Flags: --engines native,js --stalled 300.
 * Run: pnpm tsx bench/attack.ts (needs curl; the native pump built for 'native').
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryOf, requestFlood, stalledClients } from '../test/security/attackers.js';

const here = import.meta.dirname;
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const ENGINES = (arg('engines') ?? 'native,js').split(',') as ('native' | 'js')[];
const STALLED = Number(arg('stalled') ?? '300');
const MiB = 1024 * 1024;
const NODE = '7a1b2c3d';
const BOOT = [
  ['start4.elf', 2_228_000],
  ['fixup4.dat', 5_400],
  ['config.txt', 180],
  ['bcm2711-rpi-4-b.dtb', 52_000],
  ['cmdline.txt', 120],
  ['kernel8.img', 8_000_000],
] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Server {
  proc: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

async function startServer(root: string, engine: string, options: object): Promise<Server> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, '../test/fixtures/attack-server.ts'), root, JSON.stringify(options)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BRAMBLE_TFTP_NATIVE: engine === 'js' ? '0' : '1' },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start')), 60_000);
    proc.stdout?.on('data', (b: Buffer) => {
      for (const line of b.toString().split('\n')) {
        if (!line.includes('"ready"')) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
  });
  return {
    proc,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
      }),
  };
}

async function stallRun(root: string, engine: string) {
  const server = await startServer(root, engine, {
    timeoutMs: 1000,
    maxTransfers: 1024,
    maxTransfersPerClient: 1024,
  });
  const pid = server.proc.pid as number;
  const idle = memoryOf(pid).current;
  const started = performance.now();
  const stalled = await stalledClients({
    port: server.port,
    file: 'big.img',
    count: STALLED,
    options: { blksize: '65464', windowsize: '64' },
  });
  await sleep(2500);
  const peak = memoryOf(pid).peak;
  stalled.close();
  await server.stop();
  return {
    engine,
    stalledTransfers: stalled.answered,
    idleRssMiB: Math.round(idle / MiB),
    peakRssMiB: Math.round(peak / MiB),
    perTransferKiB: Math.round((peak - idle) / 1024 / STALLED),
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  };
}

async function floodRun(root: string, engine: string) {
  // Production defaults except the classify hook (the daemon's rule: a manifest node's directory is known).
  const options = { maxTransfers: 1024, classifyPrefix: `${NODE}/` };
  const server = await startServer(root, engine, options);
  const flood = await requestFlood({
    port: server.port,
    file: 'deadbeef/start4.elf',
    addresses: 50,
    perAddress: 100,
  });
  const started = performance.now();
  const files: { file: string; ms: number; ok: boolean }[] = [];
  for (const [name] of BOOT) {
    const t0 = performance.now();
    let ok = true;
    try {
      execFileSync(
        'curl',
        [
          '-sS',
          '--tftp-blksize',
          '1468',
          '-o',
          join(root, 'out'),
          `tftp://127.0.0.1:${server.port}/${NODE}/${name}`,
        ],
        {
          timeout: 60_000,
        },
      );
    } catch {
      ok = false;
    }
    files.push({ file: name, ms: Math.round(performance.now() - t0), ok });
  }
  const bootMs = Math.round(performance.now() - started);
  flood.close();
  await server.stop();
  return {
    engine,
    floodRequests: flood.sent,
    floodAddresses: 50,
    bootMs,
    bootComplete: files.every((f) => f.ok),
    files,
  };
}

async function main() {
  const root = mkdtempSync(join(tmpdir(), 'bramble-attack-'));
  try {
    const fh = await open(join(root, 'big.img'), 'w');
    await fh.truncate(64 * MiB);
    await fh.close();
    mkdirSync(join(root, NODE));
    mkdirSync(join(root, 'deadbeef'));
    for (const [name, size] of BOOT) writeFileSync(join(root, NODE, name), Buffer.alloc(size, 7));
    writeFileSync(join(root, 'deadbeef', 'start4.elf'), Buffer.alloc(1_000_000, 3));
    const stall = [];
    const flood = [];
    for (const engine of ENGINES) {
      stall.push(await stallRun(root, engine));
      console.log(JSON.stringify(stall.at(-1)));
      flood.push(await floodRun(root, engine));
      console.log(JSON.stringify(flood.at(-1)));
    }
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model },
      node: process.version,
      stall: { blksize: 65464, windowsize: 64, limitMiB: 300, runs: stall },
      flood: { runs: flood },
    };
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'attack.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
