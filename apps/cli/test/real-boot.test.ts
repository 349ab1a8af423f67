/**
 * Issue 15, booted for real: a Debian arm64 image shaped like Raspberry Pi OS (scripts/build-test-os-image.sh,
 * built once and cached) is provisioned for two nodes with `bramble node add`, then two
 * `qemu-system-aarch64 -M virt` machines with Debian's U-Boot boot it over the network, in a namespace
 * of their own:
 *   dnsmasq      addresses only (fixed per MAC); its next-server is this host, where brambled serves TFTP
 *   brambled     proxyDHCP + TFTP from the generated manifest (U-Boot fetches boot.scr.uimg, then the
 *                node's kernel8.img, initramfs8 and cmdline.txt from the node's directory)
 *   ganesha      + rpcbind serving `bramble nfs config --format ganesha`
 * Then, over ssh with the configured user and key, pinned to the host key Bramble generated: systemd
 * is `running` with no failed unit, the hostname is the node's, / is NFS from the node's own export,
 * machine-ids differ across the two nodes, and an overlayfs mount on the node's scratch volume (ext4,
 * loop-mounted at /var/lib/containerd) works. The lab (image, LAN, peers, ssh) is helpers/boot-lab.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Peer, type QemuVm, startPeer, startQemuVm, type TapLan, waitFor } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BOOT_TIMEOUT_MS,
  type Booted,
  type BootLab,
  canBoot,
  IMAGE_BUILD_TIMEOUT_MS,
  startBootLab,
} from './helpers/boot-lab.js';
import { bin } from './helpers.js';

const USER = 'kube';
const NODES = [
  { hostname: 'rb-node-01', mac: '52:54:00:b7:00:01', host: 11 },
  { hostname: 'rb-node-02', mac: '52:54:00:b7:00:02', host: 12 },
];

describe.runIf(canBoot)(
  'real boot: U-Boot in QEMU → brambled TFTP → Debian kernel → NFS root (ganesha)',
  () => {
    let lab: BootLab;
    let lan: TapLan;
    let dir: string;
    const booted: Booted[] = [];
    let daemon: Peer;
    const provisionedMachineIds = new Map<string, string>();

    const ssh = (node: Booted, command: string): Promise<string> => lab.ssh(node, command);

    beforeAll(
      async () => {
        // Each node gets a scratch volume (ext4 in a file, loop-mounted at /var/lib/containerd).
        lab = await startBootLab({ tag: 'rboot', nodes: NODES, user: USER, nodeArgs: ['--scratch', '1G'] });
        ({ lan, dir, daemon } = lab);
        for (const n of NODES) {
          const id = await readFile(join(dir, 'state', 'nfs', n.hostname, 'etc/machine-id'), 'utf8').catch(
            () => '',
          );
          provisionedMachineIds.set(n.hostname, id.trim());
        }
      },
      IMAGE_BUILD_TIMEOUT_MS + 20 * 60_000,
    );

    /** `bramble doctor --emulate NODE --keep-running` as a QemuVm: its output carries the console (--console). */
    const emulatedByDoctor = (hostname: string): QemuVm => {
      const doctor = startPeer(
        [
          'node',
          bin,
          '-c',
          lab.cfg,
          'doctor',
          '--emulate',
          hostname,
          '--netns',
          lan.ns.name,
          '--bridge',
          lan.bridge,
          '--boot',
          'uboot',
          '--timeout',
          String(BOOT_TIMEOUT_MS),
          '--console',
          '--console-log',
          join(dir, `${hostname}.console.log`),
          '--keep-running',
        ],
        { cwd: dir },
      );
      return {
        proc: doctor.proc,
        console: doctor.output,
        expect: async (pattern, timeoutMs) => {
          const found = () => pattern.exec(doctor.output());
          await waitFor(() => found() !== null || doctor.proc.exitCode !== null, timeoutMs, 200).catch(
            () => undefined,
          );
          const match = found();
          if (!match)
            throw new Error(
              `doctor --emulate (exit ${doctor.proc.exitCode}) did not print ${pattern} within ${timeoutMs} ms`,
            );
          return match;
        },
        type: () => undefined,
        stop: doctor.stop,
      };
    };

    afterAll(async () => {
      await lab?.stop(booted);
    });

    it(
      'two nodes boot from one image to a login prompt, over TFTP from brambled and NFS from ganesha',
      async () => {
        for (const [i, n] of NODES.entries()) {
          // The second node boots as a user would: `bramble doctor --emulate` (kept running for the ssh checks).
          const vm =
            i === 1
              ? emulatedByDoctor(n.hostname)
              : startQemuVm({
                  ns: lan.ns,
                  tap: lan.taps[i] as string,
                  mac: n.mac,
                  logFile: join(dir, `${n.hostname}.console.log`),
                });
          booted.push({
            hostname: n.hostname,
            address: `${lan.prefix}.${n.host}`,
            vm,
            startedAt: Date.now(),
          });
        }
        await Promise.all(
          booted.map(async (b) => {
            try {
              // U-Boot ran Bramble's script: the bootargs are exactly the cmdline.txt Bramble wrote.
              const from = await b.vm.expect(/TFTP from server ([\d.]+);/, BOOT_TIMEOUT_MS);
              expect(from[1]).toBe(lan.address);
              const args = await b.vm.expect(/Bramble: bootargs ([^\r\n]*)/, BOOT_TIMEOUT_MS);
              const mac = NODES.find((n) => n.hostname === b.hostname)?.mac.replace(/:/g, '-') ?? '';
              const cmdline = await readFile(join(dir, 'state', 'tftp', mac, 'cmdline.txt'), 'utf8');
              expect(args[1]).toBe(cmdline.trim());
              await b.vm.expect(new RegExp(`${b.hostname} login:`), BOOT_TIMEOUT_MS);
              b.loginAfterMs = Date.now() - b.startedAt;
              if (b.hostname === NODES[1]?.hostname)
                await b.vm.expect(
                  new RegExp(`${b.hostname} \\(${mac}\\): REACHED LOGIN in [\\d.]+ s`),
                  60_000,
                );
            } catch (e) {
              throw new Error(
                `${b.hostname}: ${(e as Error).message}\n--- console tail ---\n${b.vm.console().slice(-4000)}`,
              );
            }
          }),
        );
        for (const b of booted) {
          // brambled served the node's own files (U-Boot asked for them by its MAC directory).
          const dirName = NODES.find((n) => n.hostname === b.hostname)?.mac.replace(/:/g, '-') ?? '';
          const sent = daemon
            .output()
            .split('\n')
            .filter((l) => l.includes('"event":"file"') && l.includes(`"node":"${b.hostname}"`));
          for (const f of ['kernel8.img', 'initramfs8', 'cmdline.txt'])
            expect(sent.some((l) => l.includes(`"file":"${dirName}/${f}"`))).toBe(true);
          // Figures for the report (not asserted: the machine is shared). U-Boot prints the rate, then the size.
          const files = [
            ...b.vm.console().matchAll(/([\d.]+) (Bytes|KiB|MiB)\/s\s+done\s+Bytes transferred = (\d+)/g),
          ].map((m) => `${(Number(m[3]) / 1048576).toFixed(1)} MiB at ${m[1]} ${m[2]}/s`);
          console.log(
            `[real-boot] ${b.hostname}: login prompt ${((b.loginAfterMs ?? 0) / 1000).toFixed(1)} s after power-on; U-Boot TFTP: ${files.join(', ')}`,
          );
        }
      },
      2 * BOOT_TIMEOUT_MS,
    );

    it('ssh with the configured user and key, pinned to the host key Bramble generated', async () => {
      for (const b of booted) {
        // The login prompt can come before sshd has started: wait for it (bounded).
        let whoami = '';
        await waitFor(
          async () => {
            whoami = await ssh(b, 'id -un').catch(() => '');
            return whoami !== '';
          },
          5 * 60_000,
          5_000,
        ).catch(() => undefined);
        if (!whoami) whoami = await ssh(b, 'id -un'); // the error says why
        expect(whoami).toBe(USER);
        // The key the node serves is the one Bramble generated (fingerprints compared, not just trusted).
        const scanned = await lan.ns.exec('ssh-keyscan', ['-t', 'ed25519', b.address], { timeoutMs: 60_000 });
        const fingerprint = async (input: string) =>
          (await execa('ssh-keygen', ['-l', '-f', '-'], { input })).stdout.split(/\s+/)[1];
        const generated = await readFile(
          join(dir, 'state', 'nfs', b.hostname, 'etc/ssh/ssh_host_ed25519_key.pub'),
          'utf8',
        );
        expect(await fingerprint(scanned)).toBe(await fingerprint(generated));
      }
    }, 600_000);

    it('systemd reaches running with zero failed units', async () => {
      for (const b of booted) {
        const state = await ssh(b, 'timeout 300 systemctl is-system-running --wait || true');
        console.log(`[real-boot] ${b.hostname}: ${await ssh(b, 'systemd-analyze | head -n 1')}`);
        const failed = await ssh(b, 'systemctl list-units --failed --no-legend --plain');
        expect({ node: b.hostname, state, failed }).toEqual({
          node: b.hostname,
          state: 'running',
          failed: '',
        });
      }
    }, 900_000);

    it("hostname is the node's; / is NFS from the node's own export", async () => {
      for (const b of booted) {
        expect(await ssh(b, 'hostname')).toBe(b.hostname);
        const [source, fstype] = (await ssh(b, 'findmnt -n -o SOURCE,FSTYPE /')).split(/\s+/);
        expect(source).toBe(`${lan.address}:${join(dir, 'state', 'nfs', b.hostname)}`);
        expect(fstype).toMatch(/^nfs4?$/);
      }
    }, 300_000);

    it('machine-ids differ across two nodes booted from one image', async () => {
      const ids = await Promise.all(booted.map((b) => ssh(b, 'cat /etc/machine-id')));
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(new Set(ids).size).toBe(ids.length);
      // Where Bramble gave the node its own machine-id before boot, the node runs with exactly that one
      // (an empty file, as the image ships it, is filled in by systemd on first boot).
      for (const [i, b] of booted.entries()) {
        const provisioned = provisionedMachineIds.get(b.hostname);
        if (provisioned) expect(ids[i]).toBe(provisioned);
      }
    }, 300_000);

    it('an overlayfs mount on the scratch volume works (what containerd needs)', async () => {
      // /var/lib/containerd is the node's scratch volume: ext4 on a loop device (fstab), not NFS.
      const script = [
        'set -e',
        'findmnt -n -o FSTYPE,SOURCE /var/lib/containerd',
        'd=/var/lib/containerd/bramble-overlay-check',
        'rm -rf $d; mkdir -p $d/lower $d/upper $d/work $d/merged',
        'echo lower > $d/lower/f',
        'mount -t overlay overlay -o lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work $d/merged',
        'echo upper > $d/merged/f',
        'cat $d/lower/f $d/upper/f',
        'umount $d/merged; rm -rf $d',
      ].join('; ');
      for (const b of booted) {
        const [mount, ...rest] = (await ssh(b, `sudo -n sh -c '${script}'`)).split('\n');
        expect(mount).toMatch(/^ext4\s+\/dev\/loop\d+$/);
        expect(rest).toEqual(['lower', 'upper']);
      }
    }, 300_000);
  },
);
