/**
 * Issue 12 (memory per transfer): clients that open a transfer at blksize 65464 / windowsize 64, acknowledge
 * the OACK and stall must not make the server buffer a window (~4 MiB) each; netascii reads must not hold the
 * converted file. The server runs as a child process; its peak RSS (VmHWM) is read from /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { memoryOf, stalledClients } from './attackers.js';

const MiB = 1024 * 1024;
const here = import.meta.dirname;

interface Child {
  proc: ChildProcess;
  port: number;
  starts: number;
  stop(): Promise<void>;
}

async function startChild(root: string, options: object = {}): Promise<Child> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, '../fixtures/attack-server.ts'), root, JSON.stringify(options)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const child: Child = {
    proc,
    port: 0,
    starts: 0,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('attack server did not start')), 60_000);
    let rest = '';
    proc.stdout?.on('data', (b: Buffer) => {
      const lines = (rest + b.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const j = JSON.parse(line) as { ready?: boolean; port?: number; kind?: string };
        if (j.ready) {
          child.port = j.port as number;
          clearTimeout(timer);
          resolve();
        } else if (j.kind === 'start') child.starts++;
      }
    });
    proc.once('exit', (code) => reject(new Error(`attack server exited with ${code}`)));
  });
  return child;
}

/** A sparse file: big enough that every stalled transfer has a full window to send, and not cached. */
async function sparseFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  await fh.truncate(size);
  await fh.close();
}

/** Text of `size` bytes with a line end every 40 bytes (netascii grows it by 1/40). */
async function textFile(path: string, size: number): Promise<void> {
  const line = Buffer.from(`${'x'.repeat(39)}\n`);
  const piece = Buffer.concat(Array.from({ length: 26214 }, () => line));
  const fh = await open(path, 'w');
  for (let written = 0; written < size; written += piece.length)
    await fh.write(piece, 0, Math.min(piece.length, size - written));
  await fh.close();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('memory under stalled transfers (issue 12)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('mem'));
    await sparseFile(join(dir, 'big.img'), 64 * MiB);
    await textFile(join(dir, 'notes.txt'), 15 * MiB);
  });
  afterAll(() => cleanup());

  it('300 stalled transfers at blksize 65464 / windowsize 64 keep peak RSS under 300 MB', async () => {
    const child = await startChild(dir, { timeoutMs: 1000, maxTransfers: 1024, maxTransfersPerClient: 1024 });
    const pid = child.proc.pid as number;
    try {
      const before = memoryOf(pid).peak;
      const stalled = await stalledClients({
        port: child.port,
        file: 'big.img',
        count: 300,
        options: { blksize: '65464', windowsize: '64' },
      });
      try {
        expect(stalled.answered).toBe(300);
        // Every transfer sent its window; then the first retransmission round (1 s timeout) runs.
        await sleep(2500);
        const peak = memoryOf(pid).peak;
        console.log(
          `peak RSS with 300 stalled transfers: ${(peak / MiB).toFixed(0)} MiB (idle ${(before / MiB).toFixed(0)} MiB)`,
        );
        expect(child.starts).toBe(300);
        expect(peak).toBeLessThan(300 * 1000 * 1000);
      } finally {
        stalled.close();
      }
    } finally {
      await child.stop();
    }
  }, 180_000);

  it('30 stalled netascii reads of a 15 MiB text file do not each hold the converted file', async () => {
    const child = await startChild(dir, { timeoutMs: 1000 });
    const pid = child.proc.pid as number;
    try {
      const before = memoryOf(pid).peak;
      const stalled = await stalledClients({
        port: child.port,
        file: 'notes.txt',
        count: 30,
        mode: 'netascii',
        options: { blksize: '65464', windowsize: '64' },
      });
      try {
        expect(stalled.answered).toBe(30);
        await sleep(1500);
        const peak = memoryOf(pid).peak;
        console.log(
          `peak RSS with 30 stalled netascii reads: ${(peak / MiB).toFixed(0)} MiB (idle ${(before / MiB).toFixed(0)} MiB)`,
        );
        // The file itself may be cached once (fsHandler); 30 converted copies would be ~460 MiB.
        expect(peak - before).toBeLessThan(150 * MiB);
      } finally {
        stalled.close();
      }
    } finally {
      await child.stop();
    }
  }, 180_000);
});
