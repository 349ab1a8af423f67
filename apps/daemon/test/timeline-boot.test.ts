/**
 * A virtual Pi (packages/virtual-pi) boots against brambled — proxyDHCP and TFTP on loopback — and
 * the boot timeline, /nodes/NAME/boots, /fleet, /metrics and POST /boot/up show what happened.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootReportScript } from '@bramble/boot-tree';
import { freeUdpPort, requireTool } from '@bramble/testkit';
import { bootVirtualPi, formatReport } from '@bramble/virtual-pi';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootView, type Daemon, type FleetSnapshot, startDaemon } from '../src/index.js';
import { httpGet, manifestYaml, tempDir, writeTree } from './helpers.js';

const good = '1a2b3c01';
const broken = '1a2b3c02';
const stranger = '9ffefdef';

/** A pi4 boot directory; `without` leaves files out. */
function bootDir(serial: string, without: string[] = []): Record<string, Buffer | string> {
  const files: Record<string, Buffer | string> = {
    'start4.elf': Buffer.alloc(300_000, 1),
    'fixup4.dat': Buffer.alloc(5_000, 2),
    'config.txt': 'arm_64bit=1\n',
    'bcm2711-rpi-4-b.dtb': Buffer.alloc(50_000, 3),
    'cmdline.txt':
      'console=serial0,115200 root=/dev/nfs nfsroot=127.0.0.1:/srv/nfs/x,vers=3 rw ip=dhcp rootwait\n',
    'kernel8.img': Buffer.alloc(400_000, 4),
  };
  return Object.fromEntries(
    Object.entries(files)
      .filter(([name]) => !without.includes(name))
      .map(([name, content]) => [`tftp/${serial}/${name}`, content]),
  );
}

describe('boot timeline with a virtual Pi booting against brambled', () => {
  let daemon: Daemon;
  let dir: string;
  let clientPort: number;
  let dhcpPort: number;
  let httpPort: number;
  let tftpPort: number;

  beforeAll(async () => {
    dir = await tempDir('timeline');
    await writeTree(dir, {
      ...bootDir(good),
      ...bootDir(broken, ['bcm2711-rpi-4-b.dtb']),
      ...bootDir(stranger),
    });
    await writeTree(dir, {
      'bramble.yaml': manifestYaml({
        stateDir: dir,
        nodes: [
          { hostname: 'rpi-a', serial: good },
          { hostname: 'rpi-b', serial: broken },
          { hostname: 'rpi-c', serial: '1a2b3c03' },
        ],
        extra: 'dhcp: { mode: proxy, listen: 127.0.0.1 }\n',
      }),
    });
    clientPort = await freeUdpPort();
    dhcpPort = await freeUdpPort();
    daemon = await startDaemon({
      manifestPath: `${dir}/bramble.yaml`,
      watch: false,
      dhcpPort,
      pxePort: false,
      dhcpReplyTo: { address: '127.0.0.1', port: clientPort },
      timeline: { stallMs: 1500 },
    });
    httpPort = daemon.httpAddress()?.port ?? 0;
    tftpPort = daemon.tftpAddress().port;
  }, 60_000);
  afterAll(async () => {
    await daemon?.close({ deadlineMs: 1000 });
  });

  const boot = (serial: string) =>
    bootVirtualPi({
      model: 'pi4',
      serial,
      dhcp: {
        server: '127.0.0.1',
        port: dhcpPort,
        clientPort,
        localAddress: '127.0.0.1',
        attempts: 2,
        retryIntervalMs: 1500,
      },
      tftp: { port: tftpPort },
      timeoutMs: 60_000,
    });

  const boots = async (node: string): Promise<BootView[]> => {
    const r = await httpGet(httpPort, `/nodes/${node}/boots`);
    expect(r.status).toBe(200);
    return JSON.parse(r.body) as BootView[];
  };

  it('a good boot: DHCP discover/offer, each file with its result, the kernel handover, state up', async () => {
    const report = await boot(good);
    expect(report.verdict, formatReport(report)).toBe('would boot');
    const [latest, ...older] = await boots('rpi-a');
    expect(older).toHaveLength(0);
    expect(latest).toMatchObject({ id: 1, startedBy: 'dhcp', state: 'up', kernel: 'kernel8.img' });
    expect(latest?.dhcp.map((d) => d.kind)).toEqual(expect.arrayContaining(['discover', 'offer']));
    const files = latest?.files ?? [];
    const result = (name: string) => files.filter((f) => f.file === name).map((f) => f.result);
    expect(result('pieeprom.sig')).toEqual(['expected-missing']);
    expect(result('recovery.elf')).toEqual(['expected-missing']);
    expect(result('start4.elf')).toContain('complete');
    expect(result('kernel8.img')).toContain('complete');
    // Every transfer the virtual Pi made is in the timeline, with the same byte counts.
    expect(report.files.length).toBeGreaterThanOrEqual(5);
    for (const f of report.files) {
      const name = f.path.replace(`${good}/`, '');
      const step = files.find((s) => s.file === name && s.result === 'complete');
      expect(step, name).toBeDefined();
      expect(step?.bytes).toBe(f.size);
    }
    const start4 = files.find((f) => f.file === 'start4.elf' && f.result === 'complete');
    expect(start4?.bytes).toBe(300_000);
    expect(start4?.rate).toBeGreaterThan(0);
    expect(latest?.durationMs).toBeGreaterThan(0);
    const metrics = await httpGet(httpPort, '/metrics');
    expect(metrics.body).toContain('bramble_boot_duration_seconds_count 1');
  }, 90_000);

  it('a missing dtb: the boot fails with the file named, counted by stage', async () => {
    const report = await boot(broken);
    expect(report.verdict).toBe('would not boot');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const [latest] = await boots('rpi-b');
    expect(latest).toMatchObject({
      state: 'failed',
      failure: { stage: 'firmware', reason: 'asked for a file that is missing: bcm2711-rpi-4-b.dtb' },
    });
    const metrics = await httpGet(httpPort, '/metrics');
    expect(metrics.body).toContain('bramble_boot_failures_total{stage="firmware"} 1');
  }, 90_000);

  it('an unknown Pi knocks: no node, listed with the adopt command', async () => {
    await boot(stranger);
    const fleet = JSON.parse((await httpGet(httpPort, '/fleet')).body) as FleetSnapshot;
    expect(fleet.nodes.map((n) => [n.node, n.state])).toEqual([
      ['rpi-a', 'up'],
      ['rpi-b', 'failed'],
      ['rpi-c', 'never-seen'],
    ]);
    expect(fleet.unknown).toEqual([
      expect.objectContaining({
        id: stranger,
        adopt: `bramble node adopt ${stranger} --hostname pi-${stranger} --image img`,
      }),
    ]);
    expect((await httpGet(httpPort, `/nodes/pi-${stranger}/boots`)).status).toBe(404);
    // Pacing (on by default, limit 32): the nodes' slots went back when their boots ended (the
    // stranger, by MAC, keeps its slot for unknownSlotMs, as brambled cannot follow its boot).
    expect(fleet.pacing).toEqual({
      enabled: true,
      limit: 32,
      booting: expect.any(Array),
      waiting: { known: 0, unknown: 0 },
      peakBooting: expect.any(Number),
    });
    expect(fleet.pacing?.booting.filter((key) => key !== 'dc:a6:32:fe:fd:ef')).toEqual([]);
    const metrics = (await httpGet(httpPort, '/metrics')).body;
    expect(metrics).toMatch(/^bramble_pacing_admitted_total\{class="unknown"\} 1$/m);
    expect(metrics).toMatch(/^bramble_pacing_released_total\{reason="booted"\} [1-9]/m);
  }, 90_000);

  it('userspace up is marked only for the matching serial from the node address', async () => {
    const post = (body: string) =>
      fetch(`http://127.0.0.1:${httpPort}/boot/up`, { method: 'POST', body }).then((r) => r.status);
    expect(await post('serial=1a2b3c03')).toBe(404);
    expect(await post('serial=zz')).toBe(400);
    // The script personalisation installs in each node's root (packages/boot-tree), run for real with curl.
    const script = join(dir, 'boot-report');
    const serialFile = join(dir, 'serial-number');
    await writeFile(script, bootReportScript());
    await writeFile(serialFile, `10000000${good}\0`);
    const run = await execa(
      requireTool('busybox'),
      ['sh', script, `http://127.0.0.1:${httpPort}/boot/up`, serialFile],
      {
        timeout: 30_000,
      },
    );
    expect(run.exitCode).toBe(0);
    const [latest] = await boots('rpi-a');
    expect(latest?.userspaceUpAt).toBeGreaterThan(latest?.startedAt ?? 0);
  }, 30_000);
});
