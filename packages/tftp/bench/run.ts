/**
 * Boot-storm benchmark: N simulated Pi 4 boots at once (N = 1, 16, 64, 256) against Bramble, tftpd-hpa and
 * dnsmasq, all on loopback and started here; plus windowsize 16 vs lock-step for one client against Bramble.
 * Writes bench/results/boot-storm.json. Flags: --n 1,16 --scale 0.25 --servers bramble,tftpd-hpa --profile
 * --load c|node (load generator: bench/loadgen.c, compiled here with cc, by default; or this package's Node client)
 * --engine auto|native|js --pump-threads K (Bramble's data path; default: native pump when built, half the CPUs as threads)
 * --reps K (runs per server and N, median recorded; default 3)
 * --load-procs K (generator processes the clients are split over; default 1 for c, 2 for node).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeSize } from '../src/index.js';
import type { LoadResult, LoadSpec } from './load.js';
import { cpuTracker, memorySampler, treeCpuSeconds, userSysSeconds } from './proc-stats.js';
import { summarise } from './profile-summary.js';

const here = import.meta.dirname;
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const NS = (arg('n') ?? '1,16,64,256').split(',').map(Number);
const SCALE = Number(arg('scale') ?? '1');
/** Bramble's data path: auto (native pump when built), native or js; and the pump's thread count. */
const ENGINE = arg('engine') ?? 'auto';
const PUMP_THREADS = arg('pump-threads');
/** Runs per (server, N); the median is recorded. */
const REPS = Math.max(1, Number(arg('reps') ?? '3'));
const SERVERS = (arg('servers') ?? 'bramble,tftpd-hpa,dnsmasq').split(',');
const PROFILE = process.argv.includes('--profile');

// A Pi 4 boot sequence (sizes from Raspberry Pi OS bookworm; the large files scale with --scale).
const FILES = [
  { name: 'start4.elf', size: Math.round(2_200_000 * SCALE) },
  { name: 'fixup4.dat', size: 5_446 },
  { name: 'config.txt', size: 2_048 },
  { name: 'bcm2711-rpi-4-b.dtb', size: 56_093 },
  { name: 'cmdline.txt', size: 151 },
  { name: 'kernel8.img', size: Math.round(9_000_000 * SCALE) },
  { name: 'initramfs8', size: Math.round(12_000_000 * SCALE) },
];

interface Started {
  proc: ChildProcess;
  host: string;
  port: number;
}

async function waitReady(host: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await probeSize(host, 'config.txt', { port, retries: 0, retransmitMs: 100 });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`server at ${host}:${port} never answered`);
}

async function freePort(): Promise<number> {
  const { createSocket } = await import('node:dgram');
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  s.close();
  return p;
}

async function startServer(kind: string, root: string, profDir: string): Promise<Started> {
  if (kind === 'bramble') {
    const args = [
      ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
      join(here, 'server.mjs'),
      root,
      '127.0.0.1',
      '0',
    ];
    const env = {
      ...process.env,
      BRAMBLE_BENCH_ENGINE: ENGINE,
      ...(PUMP_THREADS ? { BRAMBLE_BENCH_PUMP_THREADS: PUMP_THREADS } : {}),
    };
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    const port = await new Promise<number>((resolve, reject) => {
      proc.once('exit', () => reject(new Error('bramble server exited')));
      proc.stdout?.on('data', (b: Buffer) => {
        const m = /ready (\d+)/.exec(b.toString());
        if (m) resolve(Number(m[1]));
      });
    });
    return { proc, host: '127.0.0.1', port };
  }
  if (kind === 'tftpd-hpa') {
    const port = await freePort();
    const proc = spawn('in.tftpd', ['-L', '-u', 'root', '-s', root, '-a', `127.0.0.1:${port}`], {
      stdio: 'inherit',
    });
    await waitReady('127.0.0.1', port);
    return { proc, host: '127.0.0.1', port };
  }
  // dnsmasq 2.90 has no --tftp-port: port 69 on a loopback address of its own.
  const host = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
  const proc = spawn(
    'dnsmasq',
    [
      '-d',
      '-C',
      '/dev/null',
      '--port=0',
      '-u',
      'root',
      '--pid-file',
      `--listen-address=${host}`,
      '--bind-interfaces',
      '--enable-tftp',
      `--tftp-root=${root}`,
      '--tftp-max=1024',
      '--quiet-tftp',
    ],
    { stdio: 'ignore' },
  );
  await waitReady(host, 69);
  return { proc, host, port: 69 };
}

async function stopServer(s: Started): Promise<void> {
  if (s.proc.exitCode !== null) return;
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

const LOAD = arg('load') ?? 'c';
if (LOAD !== 'c' && LOAD !== 'node') throw new Error(`--load must be c or node, not ${LOAD}`);
const LOAD_PROCS = Number(arg('load-procs') ?? (LOAD === 'c' ? '1' : '2'));
/** Per-packet timeout and resends of the C generator (the Node client's settings in load.ts: 1000 ms, 5). */
const LOAD_TIMEOUT_MS = 1000;
const LOAD_RETRIES = 5;
let loadgenBin = '';

/** Compile bench/loadgen.c once per run into `dir`; a clear error when there is no C compiler. */
function compileLoadgen(dir: string): string {
  const bin = join(dir, 'loadgen');
  try {
    execFileSync('cc', ['-O2', '-o', bin, join(here, 'loadgen.c')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? 'cc not found: the C load generator needs a C compiler (apt-get install gcc), or pass --load node'
        : `compiling bench/loadgen.c failed: ${(e as Error).message}`,
    );
  }
  return bin;
}

/** Split the clients over `LOAD_PROCS` generator processes (Pis are independent; one Node process is a bottleneck). */
async function runLoad(spec: LoadSpec): Promise<LoadResult & { loadCpuSeconds: number }> {
  const procs = Math.max(1, Math.min(LOAD_PROCS, spec.clients));
  const parts = await Promise.all(
    Array.from({ length: procs }, (_, i) =>
      runLoadProc({
        ...spec,
        clients: Math.floor(spec.clients / procs) + (i < spec.clients % procs ? 1 : 0),
      }),
    ),
  );
  return {
    wallMs: Math.max(...parts.map((p) => p.wallMs)),
    bytes: parts.reduce((n, p) => n + p.bytes, 0),
    fileMs: parts.flatMap((p) => p.fileMs),
    retransmits: parts.reduce((n, p) => n + p.retransmits, 0),
    failedBoots: parts.reduce((n, p) => n + p.failedBoots, 0),
    errors: parts.flatMap((p) => p.errors).slice(0, 10),
    loadCpuSeconds: parts.reduce((n, p) => n + p.loadCpuSeconds, 0),
  };
}

async function runLoadProc(spec: LoadSpec): Promise<LoadResult & { loadCpuSeconds: number }> {
  if (LOAD === 'node')
    return runLoadOnce(process.execPath, ['--import', 'tsx', join(here, 'load.ts'), JSON.stringify(spec)]);
  const args = [
    spec.host,
    String(spec.port),
    String(spec.clients),
    String(spec.blksize),
    String(spec.windowsize ?? 1),
    spec.probe ? '1' : '0',
    String(LOAD_TIMEOUT_MS),
    String(LOAD_RETRIES),
    spec.files.map((f) => `${f.name}:${f.size}`).join(','),
  ];
  // No JIT to warm in C: "warm-up" is one untimed run of the same fetch first (it warms the server side only).
  if (spec.warmup) await runLoadOnce(loadgenBin, args);
  return runLoadOnce(loadgenBin, args);
}

/**
 * Run one generator process and parse its JSON line. Its CPU time: the C generator reports its own
 * (getrusage, on stderr as "loadgen-cpu-seconds X"); otherwise the largest /proc sample taken while it ran.
 */
function runLoadOnce(cmd: string, args: string[]): Promise<LoadResult & { loadCpuSeconds: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let cpu = 0;
    let reportedCpu: number | undefined;
    proc.stderr?.on('data', (b: Buffer) => {
      const text = b.toString().replace(/^loadgen-cpu-seconds ([\d.]+)\n?/m, (_, x: string) => {
        reportedCpu = Number(x);
        return '';
      });
      if (text) process.stderr.write(text);
    });
    const sampler = setInterval(() => {
      if (proc.pid) cpu = Math.max(cpu, treeCpuSeconds(proc.pid));
    }, 200);
    proc.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    proc.once('close', (code) => {
      clearInterval(sampler);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{'))
        reject(new Error(`load generator failed (${code}): ${out.slice(0, 500)}`));
      else resolve({ ...(JSON.parse(line) as LoadResult), loadCpuSeconds: reportedCpu ?? cpu });
    });
  });
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function measure(s: Started, spec: LoadSpec) {
  const pid = s.proc.pid as number;
  const cpu = cpuTracker(pid);
  const mem = memorySampler(pid, 250);
  const us0 = userSysSeconds(pid);
  const r = await runLoad(spec);
  const us1 = userSysSeconds(pid);
  await new Promise((res) => setTimeout(res, 300)); // let forked peers exit and be reaped
  const cpuSeconds = cpu.stop();
  const peak = mem.stop();
  const sorted = [...r.fileMs].sort((a, b) => a - b);
  const blocks = Math.max(1, r.bytes / spec.blksize);
  return {
    clients: spec.clients,
    wallSeconds: Math.round(r.wallMs) / 1000,
    aggregateMBps: Math.round((r.bytes / 1e6 / (r.wallMs / 1000)) * 10) / 10,
    p50FileMs: Math.round(pct(sorted, 50) * 10) / 10,
    p99FileMs: Math.round(pct(sorted, 99) * 10) / 10,
    retransmits: r.retransmits,
    failedBoots: r.failedBoots,
    errors: r.errors,
    serverCpuSeconds: Math.round(cpuSeconds * 100) / 100,
    serverPeakRssMb: peak.peakRssMb,
    serverPeakPssMb: peak.peakPssMb,
    loadGeneratorCpuSeconds: r.loadCpuSeconds,
    // Where the server's time goes: the kernel share of its main process (forked tftpd-hpa children not included).
    serverKernelShare: kernelShare(us0, us1),
    // Per DATA block (payload bytes / blksize): server and generator CPU in microseconds.
    serverCpuUsPerBlock: Math.round((cpuSeconds / blocks) * 1e7) / 10,
    loadGeneratorCpuUsPerBlock: Math.round((r.loadCpuSeconds / blocks) * 1e7) / 10,
    // What the generator alone allows: the rate if the server cost nothing and the generator never waited.
    loadGeneratorCeilingMBps:
      r.loadCpuSeconds > 0 ? Math.round((r.bytes / 1e6 / r.loadCpuSeconds) * 10) / 10 : null,
  };
}

function kernelShare(a: { user: number; sys: number }, b: { user: number; sys: number }): number | null {
  const user = b.user - a.user;
  const sys = b.sys - a.sys;
  return user + sys > 0 ? Math.round((sys / (user + sys)) * 100) / 100 : null;
}

/**
 * Throughput only, without the /proc samplers of `measure` (they cost the bench process a sizeable share of a
 * core, which a single windowed transfer — server and client each busy on one of the two cores — cannot spare).
 */
async function rate(spec: LoadSpec): Promise<number> {
  const r = await runLoad(spec);
  if (r.failedBoots > 0) throw new Error(`windowsize run failed: ${r.errors.join('; ')}`);
  return Math.round((r.bytes / 1e6 / (r.wallMs / 1000)) * 10) / 10;
}

async function main(): Promise<void> {
  if (!existsSync(join(here, '..', 'dist', 'index.js')))
    execFileSync('pnpm', ['build'], { cwd: join(here, '..'), stdio: 'inherit' });
  const binDir = mkdtempSync(join(tmpdir(), 'bramble-loadgen-'));
  if (LOAD === 'c') loadgenBin = compileLoadgen(binDir);
  const root = join(tmpdir(), `bramble-bootstorm-${process.pid}`);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  for (const f of FILES) writeFileSync(join(root, f.name), randomBytes(f.size), { mode: 0o644 });
  writeFileSync(join(root, 'kernel8-full.img'), randomBytes(9_000_000), { mode: 0o644 });
  const profDir = join(here, 'results', 'prof');
  rmSync(profDir, { recursive: true, force: true });
  const result: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model,
      loadavgAtStart: loadavg(),
      node: process.version,
    },
    note:
      'All servers and the load generator share one machine (2 cores) with six other engineers working; ' +
      `figures are indicative. Load generator = ${
        LOAD === 'c'
          ? `bench/loadgen.c (single-threaded epoll C, the same binary against every server) in ${LOAD_PROCS} process(es)`
          : `this package's client in ${LOAD_PROCS} Node processes`
      }. tftpd-hpa forks a ` +
      'process per transfer (its RSS sums the tree; PSS is the fairer number).',
    loadGenerator: LOAD,
    brambleEngine: ENGINE,
    pumpThreads: PUMP_THREADS ? Number(PUMP_THREADS) : 'default (half the CPUs, 1 to 4)',
    scale: SCALE,
    repetitions: REPS,
    files: FILES,
    storm: {} as Record<string, unknown[]>,
  };
  const storm = result.storm as Record<string, unknown[]>;
  try {
    for (const kind of SERVERS) {
      const s = await startServer(kind, root, profDir);
      storm[kind] = [];
      try {
        for (const n of NS) {
          const spec: LoadSpec = {
            host: s.host,
            port: s.port,
            clients: n,
            files: FILES,
            blksize: 1024,
            probe: true,
          };
          // REPS interleaved-in-time runs; the median run (by MB/s) is recorded, with every run's MB/s beside it.
          const runs = [];
          for (let rep = 0; rep < REPS; rep++) runs.push(await measure(s, spec));
          const m = [...runs].sort((a, b) => a.aggregateMBps - b.aggregateMBps)[Math.floor(runs.length / 2)];
          const row = { ...m, aggregateMBpsRuns: runs.map((r) => r.aggregateMBps) };
          console.log(kind, JSON.stringify(row));
          storm[kind]?.push(row);
        }
        if (kind === 'bramble') {
          // One client, the full-size 9 MB kernel, lock-step vs windowsize 16; interleaved repetitions
          // (median and best) because the shared machine is noisy and the first run pays for JIT warm-up.
          const kernel = [{ name: 'kernel8-full.img', size: 9_000_000 }];
          const lock: number[] = [];
          const win: number[] = [];
          const lockWarm: number[] = [];
          const winWarm: number[] = [];
          for (let rep = 0; rep < 5; rep++) {
            const base = {
              host: s.host,
              port: s.port,
              clients: 1,
              files: kernel,
              blksize: 1024,
              probe: false,
            };
            lock.push(await rate(base));
            win.push(await rate({ ...base, windowsize: 16 }));
            // Steady state: the same fetch after one untimed warm-up fetch in the same load-generator process.
            lockWarm.push(await rate({ ...base, warmup: true }));
            winWarm.push(await rate({ ...base, windowsize: 16, warmup: true }));
          }
          const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
          result.windowsize = {
            file: 'kernel8-full.img (9 MB)',
            blksize: 1024,
            repetitions: 5,
            lockstepMBps: lock,
            windowsize16MBps: win,
            medianRatio: Math.round((med(win) / med(lock)) * 100) / 100,
            bestRatio: Math.round((Math.max(...win) / Math.max(...lock)) * 100) / 100,
            note:
              LOAD === 'c'
                ? 'lockstepMBps/windowsize16MBps: fresh C load-generator process per fetch; *Warm: timed fetch right after one untimed identical fetch (C has no JIT: only the server side warms).'
                : 'lockstepMBps/windowsize16MBps: fresh load-generator process per fetch (client JIT cold); *Warm: timed fetch after one untimed warm-up fetch in the same process.',
            lockstepMBpsWarm: lockWarm,
            windowsize16MBpsWarm: winWarm,
            medianRatioWarm: Math.round((med(winWarm) / med(lockWarm)) * 100) / 100,
          };
          console.log('windowsize', JSON.stringify(result.windowsize));
        }
      } finally {
        await stopServer(s);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(binDir, { recursive: true, force: true });
  }
  const at = (kind: string, n: number) =>
    (storm[kind] as { clients: number; aggregateMBps: number }[] | undefined)?.find((x) => x.clients === n)
      ?.aggregateMBps;
  const targets: Record<string, unknown> = {};
  for (const n of [64, 256]) {
    const b = at('bramble', n);
    const best = Math.max(at('tftpd-hpa', n) ?? 0, at('dnsmasq', n) ?? 0);
    if (b === undefined || best <= 0) continue;
    targets[`ratioVsBestPeerAtN${n}`] = Math.round((b / best) * 100) / 100;
    // The 1.5x target in MB/s next to the most the load generator itself allows (its CPU per byte, one core).
    const ceilings = Object.values(storm)
      .flat()
      .filter((x) => (x as { clients: number }).clients === n)
      .map((x) => (x as { loadGeneratorCeilingMBps: number | null }).loadGeneratorCeilingMBps ?? 0);
    targets[`targetMBpsAtN${n}`] = Math.round(best * 1.5 * 10) / 10;
    targets[`loadGeneratorCeilingMBpsAtN${n}`] = Math.max(...ceilings);
  }
  const b1 = at('bramble', 1);
  const h1 = at('tftpd-hpa', 1);
  if (b1 !== undefined && h1) targets.singleClientRatioVsTftpdHpa = Math.round((b1 / h1) * 100) / 100;
  result.targets = targets;
  if (PROFILE && existsSync(profDir)) {
    const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'));
    if (f) result.brambleCpuProfileTop = summarise(join(profDir, f), 20).rows;
    // Keep the summary, not the raw multi-megabyte profile (pass --keep-profile to keep it).
    if (!process.argv.includes('--keep-profile')) rmSync(profDir, { recursive: true, force: true });
  }
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'boot-storm.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log('wrote bench/results/boot-storm.json');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
