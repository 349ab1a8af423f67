/**
 * Issue 12: `bramble tftp serve --allow-write` writes inside its root only and never leaves a partial
 * file under the final name: it uses @bramble/tftp's fsWriteHandler (temporary file + move into place).
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freeUdpPort, requireTool, startPeer, waitFor } from '@bramble/testkit';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { bin, tempDir } from './helpers.js';

async function hpaPut(port: number, local: string, remote: string, cwd: string): Promise<string> {
  const r = await execa(
    requireTool('tftp'),
    ['-m', 'binary', '127.0.0.1', String(port), '-c', 'put', local, remote],
    {
      cwd,
      timeout: 30_000,
      reject: false,
    },
  );
  return `${r.stdout}${r.stderr}`;
}

/** Every path under `dir` (recursively). */
async function listing(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

async function serve(root: string, port: number) {
  const peer = startPeer([
    'node',
    bin,
    'tftp',
    'serve',
    '--root',
    root,
    '--listen',
    `127.0.0.1:${port}`,
    '--allow-write',
  ]);
  await waitFor(() => peer.output().includes('serving'), 20_000);
  return peer;
}

describe('bramble tftp serve --allow-write', () => {
  it('refuses an upload through a symlinked directory before creating anything outside the root', async () => {
    requireTool('tftp');
    const root = await tempDir('wroot');
    const work = await tempDir('wwork');
    const outside = await tempDir('woutside');
    await symlink(outside, join(root, 'escape'));
    await writeFile(join(work, 'up.txt'), 'uploaded\n');
    const port = await freeUdpPort();
    const peer = await serve(root, port);
    try {
      expect(await hpaPut(port, 'up.txt', 'escape/newdir/deeper/evil.txt', work)).toMatch(/Error code 2/);
      expect(await hpaPut(port, 'up.txt', 'escape/evil.txt', work)).toMatch(/Error code 2/);
      expect(await listing(outside)).toEqual([]);
      // inside the root, missing directories are still made
      expect(await hpaPut(port, 'up.txt', 'incoming/a/up.txt', work)).not.toMatch(/Error|timed out/);
      expect(await readFile(join(root, 'incoming/a/up.txt'), 'utf8')).toBe('uploaded\n');
    } finally {
      await peer.stop();
    }
  }, 60_000);

  it('an upload the client aborts (ERROR packet) leaves no file under its name and no temporary file', async () => {
    const root = await tempDir('wabort');
    const port = await freeUdpPort();
    const peer = await serve(root, port);
    const sock = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
      const next = () =>
        new Promise<{ msg: Buffer; port: number }>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no reply in 5 s')), 5000);
          sock.once('message', (msg, rinfo) => {
            clearTimeout(timer);
            resolve({ msg, port: rinfo.port });
          });
        });
      // RFC 1350 §5: WRQ, then DATA blocks; ERROR (opcode 5) ends the transfer.
      sock.send(Buffer.concat([Buffer.from([0, 2]), Buffer.from('big.bin\0octet\0')]), port, '127.0.0.1');
      const ack0 = await next();
      expect(ack0.msg.readUInt16BE(0)).toBe(4);
      for (let block = 1; block <= 3; block++) {
        const data = Buffer.concat([Buffer.from([0, 3, 0, block]), Buffer.alloc(512, block)]);
        sock.send(data, ack0.port, '127.0.0.1');
        expect((await next()).msg.readUInt16BE(2)).toBe(block);
      }
      sock.send(
        Buffer.concat([Buffer.from([0, 5, 0, 0]), Buffer.from('client gave up\0')]),
        ack0.port,
        '127.0.0.1',
      );
      await waitFor(async () => (await listing(root)).length === 0, 10_000).catch(() => undefined);
      expect(await listing(root)).toEqual([]);
    } finally {
      sock.close();
      await peer.stop();
    }
  }, 60_000);

  it('a tftp-hpa upload cut off by stopping the server leaves nothing under the final name', async () => {
    requireTool('tftp');
    requireTool('mkfifo');
    const root = await tempDir('wstop');
    const work = await tempDir('wstopwork');
    await mkdir(join(root, 'in'));
    await execa('mkfifo', [join(work, 'slow.bin')]);
    const port = await freeUdpPort();
    const peer = await serve(root, port);
    // tftp-hpa reads the file to upload from a FIFO we feed 64 KiB and then hold open: the upload stalls.
    const client = spawn(
      requireTool('tftp'),
      ['-m', 'binary', '127.0.0.1', String(port), '-c', 'put', 'slow.bin', 'in/slow.bin'],
      {
        cwd: work,
        stdio: 'ignore',
      },
    );
    const feeder = spawn('sh', ['-c', 'head -c 65536 /dev/urandom; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const { createWriteStream } = await import('node:fs');
    feeder.stdout.pipe(createWriteStream(join(work, 'slow.bin')));
    try {
      await waitFor(async () => (await listing(join(root, 'in'))).length > 0, 15_000);
      // The upload is in flight: nothing under the final name yet.
      expect(await listing(join(root, 'in'))).not.toContain('slow.bin');
      peer.proc.kill('SIGTERM');
      await waitFor(() => peer.proc.exitCode !== null || peer.proc.signalCode !== null, 15_000);
      expect(await listing(join(root, 'in'))).toEqual([]);
    } finally {
      if (client.pid !== undefined && client.exitCode === null) client.kill('SIGKILL');
      if (feeder.pid !== undefined && feeder.exitCode === null) feeder.kill('SIGKILL');
      await peer.stop();
    }
  }, 60_000);
});
