/**
 * Boot-storm pacing benchmark: the same storm (known + unknown virtual Pis of mixed models, all
 * powered on at once, UDP loss) against brambled with pacing off and on, in network namespaces
 * (root). Writes bench/results/boot-storm-pacing.json.
 *
 *   pnpm bench          # 104 known + 8 unknown, 0.2% loss each way, an 8 MB/s link, default pacing
 *   STORM_KNOWN=40 STORM_UNKNOWN=4 STORM_LOSS=0.5 STORM_LINK_MBPS=0 STORM_LIMIT=16 pnpm bench
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PiModel } from '@bramble/virtual-pi';
import { runStorm, type StormOptions, stormFigures } from '../test/storm/run-storm.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const models: PiModel[] = ['pi4', 'pi5', 'pi3b+', 'cm4', 'pi400', 'pi3b', 'pi500', 'cm5'];
const base: Omit<StormOptions, 'pacing'> = {
  known: env('STORM_KNOWN', 104),
  unknown: env('STORM_UNKNOWN', 8),
  models,
  unknownModels: ['pi4', 'pi5', 'cm4'],
  lossPercent: env('STORM_LOSS', 0.2),
  linkMBps: env('STORM_LINK_MBPS', 8),
  sizes: { kernel: env('STORM_KERNEL', 2_000_000), initramfs: env('STORM_INITRAMFS', 3_000_000) },
  timeoutMs: env('STORM_TIMEOUT', 600_000),
  restarts: 20,
};
// Pacing as configured by default (limit 32, 4 unknown), unless STORM_LIMIT sets the limit.
const pacing = process.env.STORM_LIMIT ? { maxConcurrentBoots: env('STORM_LIMIT', 32) } : {};
const runs = {
  off: await runStorm({ ...base, pacing: { enabled: false } }),
  on: await runStorm({ ...base, pacing }),
};
const off = stormFigures(runs.off);
const on = stormFigures(runs.on);
const out = {
  benchmark: 'boot-storm-pacing',
  command: 'cd apps/daemon && pnpm bench',
  when: new Date().toISOString(),
  node: process.version,
  setup: { ...base, pacing: { ...pacing, defaults: 'bramble.yaml pacing defaults otherwise' } },
  results: { pacingOff: off, pacingOn: on },
  ratio: {
    'on/off total time': Number((on.totalMs / off.totalMs).toFixed(2)),
    'on/off p50 boot time': Number((on.bootMs.p50 / (off.bootMs.p50 || 1)).toFixed(2)),
    'on/off p95 boot time': Number((on.bootMs.p95 / (off.bootMs.p95 || 1)).toFixed(2)),
  },
};
const dir = join(import.meta.dirname, 'results');
await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'boot-storm-pacing.json'), `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
