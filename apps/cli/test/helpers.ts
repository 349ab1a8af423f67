import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type Options } from 'execa';

export const bin = join(import.meta.dirname, '..', 'dist', 'index.js');
export const sampleImage = join(import.meta.dirname, '..', 'fixtures', 'sample-bookworm.img.xz');

export async function tempDir(tag: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `bramble-cli-${tag}-`));
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
