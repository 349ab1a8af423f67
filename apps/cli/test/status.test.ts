/** `bramble status` and `bramble logs` against a real brambled serving a virtual Pi's boot. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseManifestText, resolveManifest } from '@bramble/manifest';
import { bootVirtualPi } from '@bramble/virtual-pi';
import { type Daemon, startDaemon } from 'brambled';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootReportUrl } from '../src/store.js';
import { bin, bramble, tempDir } from './helpers.js';

const serial = '5a6b7c01';

describe('bramble status / logs talking to brambled', () => {
  let daemon: Daemon;
  let url: string;
  let tftpPort: number;

  beforeAll(async () => {
    const dir = await tempDir('status');
    const boot = join(dir, 'state', 'tftp', serial);
    await mkdir(boot, { recursive: true });
    const files: Record<string, Buffer | string> = {
      'start4.elf': Buffer.alloc(200_000, 1),
      'fixup4.dat': Buffer.alloc(4_000, 2),
      'config.txt': 'arm_64bit=1\n',
      'bcm2711-rpi-4-b.dtb': Buffer.alloc(40_000, 3),
      'cmdline.txt':
        'console=serial0,115200 root=/dev/nfs nfsroot=127.0.0.1:/srv/n,vers=3 rw ip=dhcp rootwait\n',
      'kernel8.img': Buffer.alloc(300_000, 4),
    };
    for (const [name, content] of Object.entries(files)) await writeFile(join(boot, name), content);
    await writeFile(
      join(dir, 'bramble.yaml'),
      `server: { address: 127.0.0.1 }
stateDir: ./state
tftp: { listen: '127.0.0.1:0' }
http: { listen: '127.0.0.1:0' }
images: { img: ./img.xz }
nodes:
  - { hostname: rpi-a, serial: '${serial}', model: pi4, image: img }
  - { hostname: rpi-b, serial: '5a6b7c02', model: pi5, image: img }
`,
    );
    daemon = await startDaemon({ manifestPath: join(dir, 'bramble.yaml'), watch: false });
    url = `http://127.0.0.1:${daemon.httpAddress()?.port}`;
    tftpPort = daemon.tftpAddress().port;
  }, 60_000);
  afterAll(async () => {
    await daemon?.close({ deadlineMs: 1000 });
  });

  const bootPi = () =>
    bootVirtualPi({ model: 'pi4', serial, dhcp: false, tftp: { host: '127.0.0.1', port: tftpPort } });

  it('status: a row per node with its state; logs: the boot step by step', async () => {
    const before = await bramble(['status', '--url', url]);
    expect(before.exitCode, before.stderr).toBe(0);
    expect(before.stdout).toMatch(/rpi-a\s+pi4\s+5a6b7c01\s+-\s+never seen/);
    expect((await bootPi()).verdict).toBe('would boot');
    const after = await bramble(['status', '--url', url]);
    expect(after.stdout).toMatch(/NODE\s+MODEL\s+SERIAL\s+ADDRESS\s+STATE\s+LAST BOOT\s+DURATION/);
    expect(after.stdout).toMatch(/rpi-a\s+pi4\s+5a6b7c01\s+127\.0\.0\.1\s+up\s/);
    expect(after.stdout).toMatch(/rpi-b\s+pi5\s+5a6b7c02\s+-\s+never seen/);
    const json = JSON.parse((await bramble(['status', '--json', '--url', url])).stdout) as {
      nodes: { node: string; state: string }[];
    };
    expect(json.nodes.map((n) => n.state)).toEqual(['up', 'never-seen']);

    const logs = await bramble(['logs', 'rpi-a', '--url', url]);
    expect(logs.exitCode, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('boot 1 of rpi-a');
    expect(logs.stdout).toMatch(/pieeprom\.sig: expected-missing/);
    expect(logs.stdout).toMatch(/start4\.elf: complete 195\.3 KiB in/);
    expect(logs.stdout).toMatch(/kernel handed over \(kernel8\.img\)/);
  }, 90_000);

  it('logs --follow prints the steps of a boot as it happens', async () => {
    const follow = execa('node', [bin, 'logs', 'rpi-a', '--follow', '--url', url, '--no-color'], {
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
    });
    let seen = '';
    follow.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
    });
    try {
      const deadline = Date.now() + 20_000;
      while (!seen.includes('boot 1 of rpi-a') && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(seen).toContain('boot 1 of rpi-a');
      // A reboot: the start file after the handover begins boot 2, which --follow shows as it happens.
      expect((await bootPi()).verdict).toBe('would boot');
      while (!/boot 2 of rpi-a[\s\S]*kernel handed over/.test(seen) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(seen).toMatch(/boot 2 of rpi-a[\s\S]*start4\.elf: complete[\s\S]*kernel handed over/);
    } finally {
      follow.kill('SIGTERM');
      await follow;
    }
  }, 90_000);

  it('an unknown node and an unreachable daemon are clear errors', async () => {
    const missing = await bramble(['logs', 'nobody', '--url', url]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("no node 'nobody'");
    const down = await bramble(['status', '--url', 'http://127.0.0.1:9']);
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toContain('cannot reach brambled at http://127.0.0.1:9');
  }, 60_000);
});

describe('where nodes report userspace up', () => {
  const manifest = (listen: string) =>
    resolveManifest(
      parseManifestText(`server: { address: 192.168.1.10 }\nhttp: { listen: '${listen}' }\n`),
      '/tmp/bramble.yaml',
    );
  it('brambled reachable from the nodes: its /boot/up; on loopback: no unit', () => {
    expect(bootReportUrl(manifest('0.0.0.0:9469'))).toBe('http://192.168.1.10:9469/boot/up');
    expect(bootReportUrl(manifest('192.168.1.10:8080'))).toBe('http://192.168.1.10:8080/boot/up');
    expect(bootReportUrl(manifest('127.0.0.1:9469'))).toBeUndefined();
  });
});
