import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll } from 'vitest';

export const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const created: string[] = [];

// Every temporary directory a test file made is removed when the file's tests end
// (BRAMBLE_KEEP_TMP=1 keeps them for a post-mortem).
afterAll(async () => {
  if (process.env.BRAMBLE_KEEP_TMP === '1') return;
  await Promise.all(created.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

export async function tempDir(tag: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `brambled-${tag}-`));
  created.push(d);
  await chmod(d, 0o755);
  return d;
}

/** Write files (path -> content) under root. */
export async function writeTree(root: string, files: Record<string, Buffer | string>): Promise<void> {
  for (const [p, c] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), c);
  }
}

export function manifestYaml(o: {
  stateDir: string;
  tftpPort?: number;
  httpPort?: number;
  nodes?: { hostname: string; serial: string; model?: string }[];
  extra?: string;
}): string {
  const nodes = (o.nodes ?? [{ hostname: 'rpi-a', serial: '1a2b3c01', model: 'pi4' }])
    .map(
      (n) => `  - { hostname: ${n.hostname}, serial: '${n.serial}', model: ${n.model ?? 'pi4'}, image: img }`,
    )
    .join('\n');
  return `server: { address: 127.0.0.1 }
stateDir: ${o.stateDir}
tftp: { listen: '127.0.0.1:${o.tftpPort ?? 0}' }
http: { listen: '127.0.0.1:${o.httpPort ?? 0}' }
images: { img: ./img.xz }
nodes:
${nodes}
${o.extra ?? ''}`;
}

/** Download with tftp-hpa's client (a real peer); returns the bytes. */
export async function tftpHpaGet(
  port: number,
  file: string,
  dir: string,
  timeoutMs = 60_000,
): Promise<Buffer> {
  const tftp = requireTool('tftp');
  const out = join(dir, `dl-${randomBytes(4).toString('hex')}`);
  const r = await execa(tftp, ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', file, out], {
    timeout: timeoutMs,
    reject: false,
  });
  // tftp-hpa exits 0 even on errors; it prints them.
  if (/Error code|Transfer timed out/i.test(`${r.stdout}${r.stderr}`))
    throw new Error(`tftp get ${file}: ${r.stdout}${r.stderr}`.trim());
  return readFile(out);
}

export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}
