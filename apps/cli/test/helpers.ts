import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type Options } from 'execa';
import { afterAll } from 'vitest';

export const bin = join(import.meta.dirname, '..', 'dist', 'index.js');
export const sampleImage = join(import.meta.dirname, '..', 'fixtures', 'sample-bookworm.img.xz');

const created: string[] = [];

// Every temporary directory a test file made is removed when the file's tests end
// (BRAMBLE_KEEP_TMP=1 keeps them for a post-mortem).
afterAll(async () => {
  if (process.env.BRAMBLE_KEEP_TMP === '1') return;
  await Promise.all(created.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

export async function tempDir(tag: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `bramble-cli-${tag}-`));
  created.push(d);
  await chmod(d, 0o755);
  return d;
}

export interface RunResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** Run the built binary; never throws on a non-zero exit. */
export async function bramble(args: readonly string[], opts: Options = {}): Promise<RunResult> {
  const r = await execa('node', [bin, ...args], {
    reject: false,
    timeout: 120_000,
    stdin: 'ignore',
    ...opts,
  });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}
