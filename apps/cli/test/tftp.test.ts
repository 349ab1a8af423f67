import { randomBytes } from 'node:crypto';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freeUdpPort, requireTool, startPeer, waitFor } from '@bramble/testkit';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { bin, bramble, tempDir } from './helpers.js';

async function hpa(port: number, cmd: 'get' | 'put', a: string, b: string, cwd: string): Promise<string> {
  const r = await execa(requireTool('tftp'), ['-m', 'binary', '127.0.0.1', String(port), '-c', cmd, a, b], {
    cwd,
    timeout: 30_000,
    reject: false,
  });
  return `${r.stdout}${r.stderr}`;
}

describe.each([[false], [true]])(
  'bramble tftp serve (single port: %s) with tftp-hpa and bramble tftp get',
  (singlePort) => {
    it('round-trips files both ways and reports a missing file', async () => {
      const root = await tempDir('tftproot');
      const work = await tempDir('tftpwork');
      const data = randomBytes(300_000);
      await writeFile(join(root, 'kernel8.img'), data);
      const port = await freeUdpPort();
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
        ...(singlePort ? ['--single-port'] : []),
      ]);
      try {
        await waitFor(() => peer.output().includes('serving'), 20_000);
        // reads go through @bramble/tftp's native pump, built with the package (single-port mode: TypeScript)
        expect(peer.output()).toContain(singlePort ? '(js engine)' : '(native engine)');
        // tftp-hpa client downloads
        expect(await hpa(port, 'get', 'kernel8.img', 'a.img', work)).not.toMatch(/Error|timed out/);
        expect((await readFile(join(work, 'a.img'))).equals(data)).toBe(true);
        // bramble's own client, with options, JSON stats
        const r = await bramble([
          'tftp',
          'get',
          '127.0.0.1',
          'kernel8.img',
          '--port',
          String(port),
          '--blksize',
          '1468',
          '-o',
          join(work, 'b.img'),
          '--json',
        ]);
        expect(r.exitCode, String(r.stderr)).toBe(0);
        expect((await readFile(join(work, 'b.img'))).equals(data)).toBe(true);
        const stats = JSON.parse(String(r.stdout)) as { bytes: number; options: Record<string, string> };
        expect(stats.bytes).toBe(data.length);
        expect(stats.options.blksize).toBe('1468');
        // upload with tftp-hpa (--allow-write)
        await writeFile(join(work, 'up.txt'), 'uploaded\n');
        expect(await hpa(port, 'put', 'up.txt', 'incoming/up.txt', work)).not.toMatch(/Error|timed out/);
        expect(await readFile(join(root, 'incoming', 'up.txt'), 'utf8')).toBe('uploaded\n');
        // an upload through a symlinked directory that leads outside the root is refused
        const outside = await tempDir('outside');
        await symlink(outside, join(root, 'escape'));
        expect(await hpa(port, 'put', 'up.txt', 'escape/evil.txt', work)).toMatch(/Error code 2/);
        await expect(readFile(join(outside, 'evil.txt'))).rejects.toThrow();
        // missing file: exit 1, no output file left behind
        const miss = await bramble([
          'tftp',
          'get',
          '127.0.0.1',
          'nope.bin',
          '--port',
          String(port),
          '-o',
          join(work, 'nope.bin'),
        ]);
        expect(miss.exitCode).toBe(1);
        expect(String(miss.stderr)).toMatch(/not found/i);
        await expect(readFile(join(work, 'nope.bin'))).rejects.toThrow();
        await expect(readFile(join(work, 'nope.bin.partial'))).rejects.toThrow();
      } finally {
        await peer.stop();
      }
    });
  },
);

describe('bramble tftp serve --engine', () => {
  it('refuses an unknown engine with a usage error before binding anything', async () => {
    const root = await tempDir('tftpengine');
    const r = await bramble([
      'tftp',
      'serve',
      '--root',
      root,
      '--listen',
      '127.0.0.1:0',
      '--engine',
      'turbo',
    ]);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toMatch(/--engine: expected auto, native or js, got 'turbo'/);
  });
});
