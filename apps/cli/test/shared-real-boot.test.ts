/**
 * Issue 17, booted for real: two nodes added with `bramble node add --root shared` boot one read-only
 * base of the cached test OS image (helpers/boot-lab.ts: U-Boot in QEMU → brambled TFTP → the image's
 * kernel and its own initramfs with Bramble's appended boot script → overlayfs of the NFS base and the
 * node's ext4 upper volume). Asserted over ssh: systemd `running` with no failed unit, the hostnames,
 * `/` is overlay on the base export (read-only) with the upper on the node's volume, a file written on
 * one node is on neither the other node nor the base export, and after `bramble image update` and a
 * reboot (`systemctl reboot`; U-Boot fetches everything again) both run on the new base (its marker
 * file), each with its own file and not the other's.
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BOOT_TIMEOUT_MS,
  type Booted,
  type BootLab,
  canBoot,
  IMAGE_BUILD_TIMEOUT_MS,
  type LabNode,
  startBootLab,
} from './helpers/boot-lab.js';

const USER = 'kube';
const NODES: LabNode[] = [
  { hostname: 'sb-node-01', mac: '52:54:00:b7:01:01', host: 21 },
  { hostname: 'sb-node-02', mac: '52:54:00:b7:01:02', host: 22 },
];
const MARKER = '/etc/bramble-base-marker';

describe.runIf(canBoot)('shared-root real boot: one base, two overlay nodes (QEMU, U-Boot, ganesha)', () => {
  let lab: BootLab;
  let booted: Booted[] = [];
  const timings: string[] = [];

  const tftpFile = (n: LabNode, file: string) =>
    join(lab.dir, 'state', 'tftp', n.mac.replace(/:/g, '-'), file);
  /** bramble.base=SERVER:PATH of the node's current cmdline.txt. */
  const basePath = async (n: LabNode) => {
    const cmdline = await readFile(tftpFile(n, 'cmdline.txt'), 'utf8');
    const base = /(?:^|\s)bramble\.base=([^\s:]+):(\S+)/.exec(cmdline);
    if (!base?.[2]) throw new Error(`no bramble.base= in ${cmdline}`);
    return base[2];
  };

  /** Power on (or wait for the reboot of) every node until ssh works; returns the seconds each took. */
  const untilUp = async (what: string, since: Map<string, { at: number; from: number }>) => {
    await Promise.all(
      booted.map(async (b) => {
        const start = since.get(b.hostname) ?? { at: Date.now(), from: 0 };
        try {
          const args = await b.vm.expect(/Bramble: bootargs ([^\r\n]*)/, BOOT_TIMEOUT_MS, start.from);
          const n = NODES.find((x) => x.hostname === b.hostname) as LabNode;
          expect(args[1]).toBe((await readFile(tftpFile(n, 'cmdline.txt'), 'utf8')).trim());
          await b.vm.expect(new RegExp(`${b.hostname} login:`), BOOT_TIMEOUT_MS, start.from);
          const login = (Date.now() - start.at) / 1000;
          await lab.waitForSsh(b, 5 * 60_000);
          timings.push(
            `${what} ${b.hostname}: login prompt ${login.toFixed(1)} s, ssh ${((Date.now() - start.at) / 1000).toFixed(1)} s`,
          );
        } catch (e) {
          throw new Error(
            `${b.hostname} (${what}): ${(e as Error).message}\n--- console tail ---\n${b.vm.console().slice(-4000)}`,
          );
        }
      }),
    );
  };

  /** `systemctl reboot` on every node; `afterReset` runs once all of them are back in U-Boot. */
  const reboot = async (what: string, afterReset?: () => Promise<void>) => {
    const since = new Map<string, { at: number; from: number }>();
    for (const b of booted) {
      since.set(b.hostname, { at: Date.now(), from: b.vm.console().length });
      // The connection drops as the node goes down: its exit status says nothing.
      await lab.ssh(b, 'sudo -n systemctl reboot').catch(() => undefined);
    }
    if (afterReset) {
      await Promise.all(
        booted.map((b) => b.vm.expect(/U-Boot \d{4}\./, BOOT_TIMEOUT_MS, since.get(b.hostname)?.from ?? 0)),
      );
      await afterReset();
    }
    await untilUp(what, since);
  };

  const systemState = async (b: Booted) => ({
    node: b.hostname,
    state: await lab.ssh(b, 'timeout 300 systemctl is-system-running --wait || true'),
    failed: await lab.ssh(b, 'systemctl list-units --failed --no-legend --plain'),
  });

  beforeAll(
    async () => {
      lab = await startBootLab({ tag: 'sboot', nodes: NODES, user: USER, nodeArgs: ['--root', 'shared'] });
    },
    IMAGE_BUILD_TIMEOUT_MS + 20 * 60_000,
  );

  afterAll(async () => {
    for (const t of timings) console.log(`[shared-real-boot] ${t}`);
    await lab?.stop(booted);
  });

  it(
    'both nodes boot from one base with the overlay step appended to the image initramfs',
    async () => {
      // One base for both, and Bramble's boot script selected on each cmdline.
      const bases = await Promise.all(NODES.map(basePath));
      expect(bases[0]).toBe(bases[1]);
      for (const n of NODES)
        expect(await readFile(tftpFile(n, 'cmdline.txt'), 'utf8')).toMatch(/(^|\s)boot=bramble(\s|$)/);
      booted = NODES.map((n) => lab.startVm(n));
      await untilUp('first boot', new Map());
      for (const b of booted)
        expect(await systemState(b)).toEqual({ node: b.hostname, state: 'running', failed: '' });
      for (const b of booted) expect(await lab.ssh(b, 'hostname')).toBe(b.hostname);
    },
    2 * BOOT_TIMEOUT_MS,
  );

  it("/ is overlay: lower the base export (read-only), upper on the node's volume", async () => {
    const base = await basePath(NODES[0] as LabNode);
    for (const b of booted) {
      const root = await lab.ssh(b, 'findmnt -n -o FSTYPE,OPTIONS /');
      expect(root).toMatch(/^overlay\s/);
      expect(root).toContain('lowerdir=/run/bramble/base');
      expect(root).toContain('upperdir=/run/bramble/upper/upper');
      const [lowerSource, lowerType, lowerOptions] = (
        await lab.ssh(b, 'findmnt -n -o SOURCE,FSTYPE,OPTIONS /run/bramble/base')
      ).split(/\s+/);
      expect(lowerSource).toBe(`${lab.lan.address}:${base}`);
      expect(lowerType).toMatch(/^nfs4?$/);
      expect(lowerOptions?.split(',')).toContain('ro');
      const [upperSource, upperType] = (
        await lab.ssh(b, 'findmnt -n -o SOURCE,FSTYPE /run/bramble/upper')
      ).split(/\s+/);
      expect(upperType).toBe('ext4');
      expect(upperSource).toMatch(/^\/dev\/loop\d+$/);
      // The loop device's backing file is the node's own upper volume, in its own layer export.
      const backing = await lab.ssh(b, `cat /sys/block/${basename(upperSource ?? '')}/loop/backing_file`);
      expect(backing).toBe('/run/bramble/layer/upper.ext4');
      expect(await lab.ssh(b, 'findmnt -n -o SOURCE /run/bramble/layer')).toBe(
        `${lab.lan.address}:${join(lab.dir, 'state', 'nfs', b.hostname)}`,
      );
    }
  }, 300_000);

  it('a file written on one node is on neither the other node nor the base', async () => {
    const base = await basePath(NODES[0] as LabNode);
    for (const b of booted) {
      await lab.ssh(b, `echo ${b.hostname} | sudo -n tee /etc/written-on-${b.hostname} >/dev/null && sync`);
      expect(await lab.ssh(b, `cat /etc/written-on-${b.hostname}`)).toBe(b.hostname);
    }
    for (const b of booted) {
      for (const other of booted.filter((x) => x !== b)) {
        expect(
          await lab.ssh(b, `test -e /etc/written-on-${other.hostname} && echo there || echo absent`),
        ).toBe('absent');
      }
      await expect(readFile(join(base, 'etc', `written-on-${b.hostname}`))).rejects.toThrow(/ENOENT/);
    }
  }, 300_000);

  // One reboot proves both: the nodes' own changes survive it, and the new base reaches them (a second,
  // plain reboot would add 4-7 minutes of TCG boot on a loaded 2-core machine).
  it(
    'after `image update` and a reboot: both nodes run the new base and keep their own files only',
    async () => {
      // The "new" image: the cached one with a marker file in its root (debugfs -w at the partition offset).
      const next = join(lab.dir, 'next.img');
      await copyFile(lab.image, next);
      const table = JSON.parse((await execa('sfdisk', ['-J', next])).stdout) as {
        partitiontable: { sectorsize?: number; partitions: { start: number; type: string }[] };
      };
      const rootPart = table.partitiontable.partitions.find((p) => p.type === '83');
      const offset = (rootPart?.start ?? 0) * (table.partitiontable.sectorsize ?? 512);
      await writeFile(join(lab.dir, 'marker'), 'new base\n');
      await execa('debugfs', [
        '-w',
        '-R',
        `write ${join(lab.dir, 'marker')} ${MARKER}`,
        `${next}?offset=${offset}`,
      ]);
      const oldBase = await basePath(NODES[0] as LabNode);
      const name = basename(lab.image).replace(/\.img$/, '');
      const report = await lab.run(['image', 'update', name, next, '--json']);
      const rows = (JSON.parse(report) as { nodes: { node: string; to: string }[] }).nodes;
      expect(rows.map((r) => r.node).sort()).toEqual(NODES.map((n) => n.hostname));
      const newBase = await basePath(NODES[0] as LabNode);
      expect(newBase).not.toBe(oldBase);
      expect(await readFile(join(newBase, MARKER.slice(1)), 'utf8')).toBe('new base\n');
      // Running nodes keep the old base until they reboot.
      for (const b of booted)
        expect(await lab.ssh(b, `test -e ${MARKER} && echo there || echo absent`)).toBe('absent');
      // Export the new base (ganesha on the regenerated config) once the nodes have left the old one.
      await reboot('reboot after image update', () => lab.restartNfs());
      for (const b of booted) {
        for (const other of booted.filter((x) => x !== b))
          expect(await lab.ssh(b, `ls /etc/written-on-${other.hostname} 2>&1 || true`)).toMatch(
            /No such file/,
          );
        expect(await lab.ssh(b, `cat ${MARKER}`)).toBe('new base');
        expect(await lab.ssh(b, 'findmnt -n -o SOURCE /run/bramble/base')).toBe(
          `${lab.lan.address}:${newBase}`,
        );
        expect(await lab.ssh(b, `cat /etc/written-on-${b.hostname}`)).toBe(b.hostname);
        expect(await lab.ssh(b, 'hostname')).toBe(b.hostname);
        expect(await systemState(b)).toEqual({ node: b.hostname, state: 'running', failed: '' });
      }
    },
    2 * BOOT_TIMEOUT_MS + 10 * 60_000,
  );
});
