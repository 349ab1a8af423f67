import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bramble, tempDir } from './helpers.js';

/** A UDP port nothing listens on (bound, then released). */
async function unusedUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

describe('bramble error messages', () => {
  it('reports a bad flag value as the flag, not as the manifest, and exits 2 without writing one', async () => {
    const dir = await tempDir('flags');
    const r = await bramble(
      ['node', 'add', 'n1', '--serial', 'zz', '--image', 'bookworm', '--nfs-server', '10.0.0.1'],
      { cwd: dir },
    );
    expect(r.exitCode).toBe(2);
    // The message is @bramble/pi's serial rule (SERIAL_RULE), named by the flag.
    expect(r.stderr).toContain("--serial: serial 'zz' is not 8 hex digits");
    expect(r.stderr).toContain("got 'zz'");
    expect(r.stderr).not.toContain('invalid manifest');
    expect(r.stderr).not.toContain('nodes[0]');
    expect(existsSync(join(dir, 'bramble.yaml'))).toBe(false);
  });

  it('says a missing --image file is neither a file nor a known image, exit 2', async () => {
    const dir = await tempDir('noimage');
    const r = await bramble(
      ['node', 'add', 'n1', '--serial', '7a1b2c3d', '--image', 'missing.img', '--nfs-server', '10.0.0.1'],
      { cwd: dir },
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--image: expected an image file or the name of an image .*'missing\.img'/);
    expect(r.stderr).not.toContain('unknown image');
    expect(existsSync(join(dir, 'bramble.yaml'))).toBe(false);
  });

  it('names the flag and what was expected for usage errors, exit 2', async () => {
    const missing = await bramble(['node', 'add', 'n1', '--serial', '7a1b2c3d']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("required option '--image <name|file>' not specified");
    const listen = await bramble(['tftp', 'serve', '--root', '.', '--listen', 'nope']);
    expect(listen.exitCode).toBe(2);
    expect(listen.stderr).toContain("--listen: expected ADDR:PORT, got 'nope'");
  });

  it('refuses to inspect a file that is not a disk image (exit 1)', async () => {
    const dir = await tempDir('notes');
    await writeFile(join(dir, 'notes.txt'), 'shopping list\n');
    const r = await bramble(['image', 'inspect', join(dir, 'notes.txt')]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('is not a disk image');
    expect(r.stdout).not.toContain('raw');
  });

  it('leaves no directory behind when node add fails to extract its image', async () => {
    const dir = await tempDir('failed-add');
    await writeFile(join(dir, 'notes.txt'), 'not an image\n');
    const r = await bramble(
      ['node', 'add', 'n1', '--serial', '7a1b2c3d', '--image', 'notes.txt', '--nfs-server', '10.0.0.1'],
      { cwd: dir },
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('notes.txt');
    expect((await readdir(dir)).sort()).toEqual(['notes.txt']);
  });

  it('leaves the image store as it was when adding a node to an existing manifest fails', async () => {
    const dir = await tempDir('failed-add2');
    const state = join(dir, 'state');
    await writeFile(
      join(dir, 'bramble.yaml'),
      `version: 1\nserver: { address: 10.0.0.1 }\nstateDir: ${state}\n`,
    );
    await writeFile(join(dir, 'notes.txt'), 'not an image\n');
    const r = await bramble(['node', 'add', 'n1', '--serial', '7a1b2c3d', '--image', 'notes.txt'], {
      cwd: dir,
    });
    expect(r.exitCode).toBe(1);
    expect(existsSync(state)).toBe(false);
  });

  it('doctor --simulate says within 5 s that no server answers, and how to start one', async () => {
    const dir = await tempDir('doctor');
    const port = await unusedUdpPort();
    await writeFile(
      join(dir, 'bramble.yaml'),
      `version: 1\nserver: { address: 127.0.0.1 }\nstateDir: ${join(dir, 'state')}\n` +
        `tftp: { listen: '127.0.0.1:${port}' }\nimages: {}\nnodes: []\n`,
    );
    const started = performance.now();
    const r = await bramble(['doctor', '--simulate', '--serial', '7a1b2c3d'], { cwd: dir });
    const seconds = (performance.now() - started) / 1000;
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`no TFTP server answers on 127.0.0.1:${port}`);
    expect(r.stderr).toContain('bramble serve');
    // 3 s of probing plus process start-up; generous for a loaded machine, far from the 60 s boot timeout.
    expect(seconds).toBeLessThan(10);
  });
});
