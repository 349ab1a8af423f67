/**
 * Host key benchmark: one node's default host keys (ed25519, ecdsa, RSA-3072) made in-process
 * (generateOpenSshKeyPair: node:crypto in the thread pool, RSA's primes side by side) against the peer,
 * `ssh-keygen -t TYPE` for the three types at the same time (what provisioning ran before), alternating,
 * BENCH_KEY_ROUNDS rounds each, on the same machine in one run. Writes bench/results/host-keys.json.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { generateOpenSshKeyPair, type HostKeyType } from '../src/index.js';

const ROUNDS = Number(process.env.BENCH_KEY_ROUNDS ?? 15);
const TYPES: readonly HostKeyType[] = ['ed25519', 'ecdsa', 'rsa'];

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function seconds(run: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function sshKeygen(dir: string, round: number): Promise<void> {
  await Promise.all(
    TYPES.map((type) =>
      execa('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'root@n1', '-f', join(dir, `${type}-${round}`)]),
    ),
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bramble-bench-keys-'));
  const loadStart = loadavg();
  const inProcess: number[] = [];
  const peer: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      inProcess.push(
        await seconds(() => Promise.all(TYPES.map((t) => generateOpenSshKeyPair(t, 'root@n1')))),
      );
      peer.push(await seconds(() => sshKeygen(dir, round)));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, loadAverage: { start: loadStart, end: loadavg() } },
    rounds: ROUNDS,
    types: TYPES,
    inProcessSeconds: inProcess,
    sshKeygenSeconds: peer,
    inProcessMedianSeconds: median(inProcess),
    sshKeygenMedianSeconds: median(peer),
    ratioInProcessVsSshKeygen: median(inProcess) / median(peer),
  };
  await writeFile(
    join(import.meta.dirname, 'results', 'host-keys.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  console.log(JSON.stringify(result, null, 2));
}

await main();
