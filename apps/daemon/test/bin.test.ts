import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freeTcpPort, freeUdpPort, isRoot, requireTool, startPeer, waitFor } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, manifestYaml, sha, tempDir, tftpHpaGet, writeTree } from './helpers.js';

const bin = join(import.meta.dirname, '..', 'dist', 'main.js');

describe('brambled binary', () => {
  let dir: string;
  const big = randomBytes(8 * 1024 * 1024);
  beforeAll(async () => {
    dir = await tempDir('bin');
    await writeTree(join(dir, 'state', 'tftp'), {
      '1a2b3c01/kernel8.img': big,
      '1a2b3c01/config.txt': 'arm_64bit=1\n',
    });
  });

  it('SIGHUP reloads, SIGTERM drains the transfer in flight and exits 0', async () => {
    const tftpPort = await freeUdpPort();
    const httpPort = await freeTcpPort();
    const manifest = join(dir, 'hup.yaml');
    await writeFile(manifest, manifestYaml({ stateDir: './state', tftpPort, httpPort }));
    const peer = startPeer(['node', bin, '-c', manifest, '--no-watch', '--log-format', 'json']);
    try {
      await waitFor(() => peer.output().includes('"service":"http"'), 20_000);
      // SIGHUP with a manifest that adds a node: /nodes shows it.
      await writeFile(
        manifest,
        manifestYaml({
          stateDir: './state',
          tftpPort,
          httpPort,
          nodes: [
            { hostname: 'rpi-a', serial: '1a2b3c01' },
            { hostname: 'rpi-b', serial: '1a2b3c02', model: 'pi5' },
          ],
        }),
      );
      peer.proc.kill('SIGHUP');
      await waitFor(async () => (await httpGet(httpPort, '/nodes')).body.includes('rpi-b'), 10_000);
      // SIGTERM while a transfer runs: it completes, then the daemon exits 0.
      const inFlight = tftpHpaGet(tftpPort, '1a2b3c01/kernel8.img', dir);
      await waitFor(
        async () => /bramble_tftp_requests_total 1$/m.test((await httpGet(httpPort, '/metrics')).body),
        10_000,
        10,
      );
      const exited = new Promise<number | null>((r) => peer.proc.once('exit', (code) => r(code)));
      peer.proc.kill('SIGTERM');
      expect(sha(await inFlight)).toBe(sha(big));
      expect(await exited).toBe(0);
      expect(peer.output()).toContain('"event":"draining"');
      expect(peer.output()).toContain('"event":"stopped"');
    } finally {
      await peer.stop();
    }
  });

  it('refuses a malformed manifest at start with every problem by path (exit 1)', async () => {
    const manifest = join(dir, 'bad.yaml');
    await writeFile(
      manifest,
      'server: { address: 1.2.3 }\nimages: {}\nnodes:\n  - { hostname: a, serial: xyz, image: img }\n',
    );
    const r = await execa('node', [bin, '-c', manifest, '--no-http'], { reject: false, timeout: 20_000 });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('server.address: expected an IPv4 address');
    expect(r.stderr).toContain("nodes[0].serial: serial 'xyz' is not 8 hex digits");
    expect(r.stderr).toContain("nodes[0].image: unknown image 'img'");
  });

  it('serves on a socket passed through LISTEN_FDS (systemd-socket-activate)', async () => {
    const activate = requireTool('systemd-socket-activate');
    const port = await freeUdpPort();
    const manifest = join(dir, 'act.yaml');
    // The manifest asks for port 69; activation replaces it, so no privilege is needed.
    await writeFile(
      manifest,
      manifestYaml({ stateDir: './state', tftpPort: 69 }).replace('127.0.0.1:69', '0.0.0.0:69'),
    );
    const peer = startPeer([
      activate,
      '--datagram',
      '-l',
      `127.0.0.1:${port}`,
      'node',
      bin,
      '-c',
      manifest,
      '--no-http',
    ]);
    try {
      // systemd-socket-activate starts the daemon on the first datagram; tftp-hpa retransmits until it answers.
      const got = await tftpHpaGet(port, '1a2b3c01/config.txt', dir, 30_000);
      expect(got.toString()).toBe('arm_64bit=1\n');
      await waitFor(() => peer.output().includes('socket activation'), 10_000);
    } finally {
      await peer.stop();
    }
  });

  it('passes a bound dgram socket as fd 3 with LISTEN_FDS=1', async () => {
    const manifest = join(dir, 'fd3.yaml');
    await writeFile(manifest, manifestYaml({ stateDir: './state', tftpPort: 69 }));
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    // The child gets the socket as fd 3; LISTEN_PID must be its own pid, so a shell sets it before exec.
    const child = spawn(
      'sh',
      ['-c', `LISTEN_PID=$$ exec node "${bin}" -c "${manifest}" --no-http --log-format json`],
      {
        env: { ...process.env, LISTEN_FDS: '1' },
        stdio: ['ignore', 'pipe', 'pipe', (sock as unknown as { _handle: { fd: number } })._handle.fd],
      },
    );
    let out = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await waitFor(() => out.includes('"service":"tftp"'), 20_000);
      sock.close(); // the daemon holds its own copy of the fd
      expect(out).toContain('socket activation');
      expect((await tftpHpaGet(port, '1a2b3c01/config.txt', dir)).toString()).toBe('arm_64bit=1\n');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it.runIf(isRoot())(
    'says clearly that port 69 needs privilege when run unprivileged without activation',
    async () => {
      const manifest = join(dir, 'priv.yaml');
      await writeFile(manifest, manifestYaml({ stateDir: './state', tftpPort: 69 }));
      const setpriv = requireTool('setpriv');
      const r = await execa(
        setpriv,
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          '--inh-caps=-all',
          'node',
          bin,
          '-c',
          manifest,
          '--no-http',
        ],
        { reject: false, timeout: 20_000, cwd: dir },
      );
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/UDP port 69.*CAP_NET_BIND_SERVICE.*socket activation/s);
      expect(r.stderr).toContain('$(npm root -g)/brambled/systemd/');
    },
  );

  afterAll(() => undefined);
});
