import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { NetNs } from '@bramble/testkit';
import type { BootReport, StormReport } from '../../src/index.js';

const run = promisify(execFile);
const here = import.meta.dirname;
const TSX = resolve(here, '../../../../node_modules/.bin/tsx');
const RUNNER = resolve(here, 'ns-runner.ts');
const TSCONFIG = resolve(here, 'tsconfig.ns.json');

/** Run ns-runner.ts in `ns` (real ports 67/68) with `options`; its JSON report. */
async function runInNamespace(
  ns: NetNs,
  options: Record<string, unknown>,
  timeoutMs: number,
): Promise<string> {
  const [command = 'ip', ...prefix] = ns.prefix;
  const result = await run(
    command,
    [...prefix, TSX, '--tsconfig', TSCONFIG, RUNNER, JSON.stringify(options)],
    {
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return result.stdout;
}

/** Boot a virtual Pi inside `ns`. */
export async function bootInNamespace(
  ns: NetNs,
  options: Record<string, unknown>,
  timeoutMs = 60_000,
): Promise<BootReport> {
  return JSON.parse(await runInNamespace(ns, options, timeoutMs)) as BootReport;
}

/** Boot a storm of virtual Pis inside `ns`. */
export async function stormInNamespace(
  ns: NetNs,
  options: Record<string, unknown>,
  timeoutMs = 120_000,
): Promise<StormReport> {
  return JSON.parse(await runInNamespace(ns, { ...options, storm: true }, timeoutMs)) as StormReport;
}
