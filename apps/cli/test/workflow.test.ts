import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freeUdpPort, startPeer, waitFor } from '@bramble/testkit';
import { describe, expect, it } from 'vitest';
import { bin, bramble, sampleImage, tempDir } from './helpers.js';

describe('bramble: the one-shot workflow on the sample image', () => {
  it('node add extracts, provisions and prints DHCP; ls/check/configs/adopt/rm work on the result', async () => {
    const dir = await tempDir('flow');
    const cfg = join(dir, 'bramble.yaml');
    await copyFile(sampleImage, join(dir, 'raspios.img.xz'));
    const add = await bramble(
      [
        'node',
        'add',
        'rpi-k8s-01',
        '--serial',
        '10000000 7A1B2C3D'.replace(' ', ''),
        '--image',
        './raspios.img.xz',
        '--nfs-server',
        '192.168.1.10',
        '--address',
        '192.168.1.21',
        '--mac',
        'DC-A6-32-01-36-C2',
        '--state',
        './state',
      ],
      { cwd: dir },
    );
    expect(add.exitCode, String(add.stderr)).toBe(0);
    expect(String(add.stdout)).toContain('rpi-k8s-01');
    expect(String(add.stdout)).toContain('Raspberry Pi Boot'); // the DHCP hint
    const manifest = await readFile(cfg, 'utf8');
    expect(manifest).toMatch(/serial: ['"]?7a1b2c3d/);
    expect(manifest).toContain('mac: dc:a6:32:01:36:c2');
    // the patched cmdline of the node
    const cmdline = await readFile(join(dir, 'state', 'tftp', '7a1b2c3d', 'cmdline.txt'), 'utf8');
    expect(cmdline).toMatch(/root=\/dev\/nfs nfsroot=192\.168\.1\.10:\S*\/state\/nfs\/rpi-k8s-01,vers=3/);
    expect(await readFile(join(dir, 'state', 'nfs', 'rpi-k8s-01', 'etc', 'hostname'), 'utf8')).toBe(
      'rpi-k8s-01\n',
    );

    const ls = JSON.parse(String((await bramble(['node', 'ls', '--json'], { cwd: dir })).stdout)) as {
      hostname: string;
      serial: string;
      provisioned: boolean;
    }[];
    expect(ls).toEqual([
      expect.objectContaining({ hostname: 'rpi-k8s-01', serial: '7a1b2c3d', provisioned: true }),
    ]);
    const again = await bramble(['node', 'provision'], { cwd: dir });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain('rpi-k8s-01: 0 change(s)'); // idempotent
    const check = await bramble(['node', 'check', '--json'], { cwd: dir });
    expect(check.exitCode, String(check.stdout)).toBe(0);
    const images = JSON.parse(String((await bramble(['image', 'ls', '--json'], { cwd: dir })).stdout)) as {
      name: string;
      extracted: boolean;
      release?: string;
    }[];
    expect(images).toEqual([
      expect.objectContaining({ name: 'raspios', extracted: true, release: 'bookworm' }),
    ]);

    const exportsText = String(
      (await bramble(['nfs', 'config', '--format', 'exports'], { cwd: dir })).stdout,
    );
    expect(exportsText).toMatch(
      /state\/nfs\/rpi-k8s-01 192\.168\.1\.21\(rw,sync,no_subtree_check,no_root_squash,fsid=\d+\)/,
    );
    expect(String((await bramble(['nfs', 'config', '--format', 'ganesha'], { cwd: dir })).stdout)).toContain(
      'EXPORT',
    );
    for (const format of ['dnsmasq', 'dnsmasq-proxy', 'isc', 'kea']) {
      const r = await bramble(['dhcp', 'config', '--format', format], { cwd: dir });
      expect(r.exitCode, `${format}: ${String(r.stderr)}`).toBe(0);
      expect(String(r.stdout).length).toBeGreaterThan(20);
    }

    // serve + doctor: static checks pass, a simulated Pi 4 boots against `bramble serve`
    const doctor = await bramble(['doctor', '--json'], { cwd: dir });
    expect(doctor.exitCode, doctor.stdout).toBe(0);
    const port = await freeUdpPort();
    const serve = startPeer(
      ['node', bin, 'serve', '--tftp-listen', `127.0.0.1:${port}`, '--http-listen', '127.0.0.1:0'],
      { cwd: dir },
    );
    try {
      await waitFor(() => serve.output().includes('HTTP on'), 20_000);
      const sim = await bramble(
        ['doctor', '--simulate', '--model', 'pi4', '--serial', '7a1b2c3d', '--server', `127.0.0.1:${port}`],
        { cwd: dir },
      );
      expect(sim.exitCode, sim.stdout + sim.stderr).toBe(0);
      expect(sim.stdout).toContain('WOULD BOOT');
    } finally {
      await serve.stop();
    }
    // an image in use cannot be removed
    const rmImage = await bramble(['image', 'rm', 'raspios', '--yes'], { cwd: dir });
    expect(rmImage.exitCode).toBe(1);
    expect(rmImage.stderr).toContain('used by rpi-k8s-01');

    // adopt a Pi the daemon discovered
    await writeFile(
      join(dir, 'state', 'discovered.json'),
      JSON.stringify({
        version: 1,
        pis: [
          {
            id: '9ffefdef',
            serial: '9ffefdef',
            model: 'pi3b+', // detected from its option 97 serial GUID; adopt used to drop it
            address: '192.168.1.99',
            via: 'tftp',
            firstSeen: '',
            lastSeen: '',
            requests: 1,
          },
        ],
      }),
    );
    const disc = JSON.parse(
      String((await bramble(['node', 'ls', '--discovered', '--json'], { cwd: dir })).stdout),
    ) as { id: string }[];
    expect(disc.map((d) => d.id)).toEqual(['9ffefdef']);
    const adopt = await bramble(
      [
        '-q',
        'node',
        'adopt',
        '9ffefdef',
        '--hostname',
        'rpi-k8s-05',
        '--image',
        'raspios',
        '--address',
        '192.168.1.25',
      ],
      { cwd: dir },
    );
    expect(adopt.exitCode, String(adopt.stderr)).toBe(0);
    expect(await readFile(cfg, 'utf8')).toMatch(/hostname: rpi-k8s-05[\s\S]*model: pi3b\+/);
    expect(
      JSON.parse(String((await bramble(['node', 'ls', '--discovered', '--json'], { cwd: dir })).stdout)),
    ).toEqual([]);

    // destructive: refused without a TTY and without --yes (exit 2), done with --yes
    const refused = await bramble(['node', 'rm', 'rpi-k8s-05'], { cwd: dir });
    expect(refused.exitCode).toBe(2);
    expect(String(refused.stderr)).toContain('--yes');
    const removed = await bramble(['node', 'rm', 'rpi-k8s-05', '--yes'], { cwd: dir });
    expect(removed.exitCode, String(removed.stderr)).toBe(0);
    expect(await readFile(cfg, 'utf8')).not.toContain('rpi-k8s-05');
  });
});
