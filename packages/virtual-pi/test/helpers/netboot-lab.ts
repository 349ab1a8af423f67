import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { createVethPair, type Peer, requireTool, startPeer, type VethLink, waitFor } from '@bramble/testkit';
import type { BootReport, StormReport } from '../../src/index.js';

const run = promisify(execFile);
const here = import.meta.dirname;
const TSX = resolve(here, '../../../../node_modules/.bin/tsx');
const RUNNER = resolve(here, 'ns-runner.ts');
const TSCONFIG = resolve(here, 'tsconfig.ns.json');

/**
 * Two namespaces joined by a veth pair: dnsmasq (DHCP + TFTP) in `server`, virtual Pis in `pi`.
 * dnsmasq is configured as the official Raspberry Pi network-boot guide does, plus `dhcp-broadcast` so a
 * client without an address receives its replies.
 */
export interface NetbootLab {
  link: VethLink;
  serverAddress: string;
  dnsmasq?: Peer;
  startDnsmasq(o: {
    tftpRoot: string;
    pxe?: string | false;
    proxy?: boolean;
    extra?: string[];
    /** A generated config (e.g. @bramble/dhcp dnsmasqConfig) used instead of the guide's DHCP lines. */
    config?: string;
  }): Promise<Peer>;
  stopDnsmasq(): Promise<void>;
  /** Boot in the `pi` namespace (real ports 67/68, broadcast). */
  boot(o: Record<string, unknown>, timeoutMs?: number): Promise<BootReport>;
  storm(o: Record<string, unknown>, timeoutMs?: number): Promise<StormReport>;
  destroy(): Promise<void>;
}

export async function createNetbootLab(tag: string): Promise<NetbootLab> {
  const dnsmasqBin = requireTool('dnsmasq');
  requireTool('ip');
  const link = await createVethPair(tag);
  // The Pi namespace needs a route for 255.255.255.255 (limited broadcast leaves via the veth).
  await run('ip', ['-n', link.b.name, 'route', 'add', 'default', 'dev', link.ifB], { timeout: 10_000 });
  let leases: string | undefined;
  let conf: string | undefined;
  const subnet = link.addrA.split('.').slice(0, 3).join('.');
  const lab: NetbootLab = {
    link,
    serverAddress: link.addrA,
    async startDnsmasq(o) {
      await lab.stopDnsmasq();
      leases = `${o.tftpRoot}.leases`;
      conf = `${o.tftpRoot}.dnsmasq.conf`;
      // The official guide's /etc/dnsmasq.conf, in a file so dnsmasq unquotes "Raspberry Pi Boot" as it does there.
      const guide = [
        'port=0',
        `interface=${link.ifA}`,
        'bind-interfaces',
        o.proxy ? `dhcp-range=${subnet}.255,proxy` : `dhcp-range=${subnet}.100,${subnet}.199,255.255.255.0`,
        'log-dhcp',
        ...(o.pxe === false ? [] : [`pxe-service=0,"${o.pxe ?? 'Raspberry Pi Boot'}"`]),
      ];
      const lines = [
        ...(o.config === undefined ? guide : o.config.trimEnd().split('\n')),
        'no-hosts',
        'user=root',
        'group=root',
        `dhcp-leasefile=${leases}`,
        'dhcp-broadcast',
        'no-ping',
        'enable-tftp',
        `tftp-root=${o.tftpRoot}`,
        ...(o.extra ?? []),
      ];
      await writeFile(conf, `${lines.join('\n')}\n`);
      const peer = startPeer([...link.a.prefix, dnsmasqBin, '-d', '--pid-file=', `--conf-file=${conf}`]);
      lab.dnsmasq = peer;
      await waitFor(() => peer.output().includes('TFTP root is') || peer.proc.exitCode !== null, 10_000);
      if (peer.proc.exitCode !== null) throw new Error(`dnsmasq exited: ${peer.output()}`);
      return peer;
    },
    async stopDnsmasq() {
      await lab.dnsmasq?.stop();
      delete lab.dnsmasq;
      for (const f of [leases, conf]) if (f) await rm(f, { force: true });
    },
    async boot(o, timeoutMs = 60_000) {
      const r = await run(
        link.b.prefix[0]!,
        [...link.b.prefix.slice(1), TSX, '--tsconfig', TSCONFIG, RUNNER, JSON.stringify(o)],
        {
          timeout: timeoutMs,
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      return JSON.parse(r.stdout) as BootReport;
    },
    async storm(o, timeoutMs = 120_000) {
      const r = await run(
        link.b.prefix[0]!,
        [
          ...link.b.prefix.slice(1),
          TSX,
          '--tsconfig',
          TSCONFIG,
          RUNNER,
          JSON.stringify({ ...o, storm: true }),
        ],
        { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      );
      return JSON.parse(r.stdout) as StormReport;
    },
    async destroy() {
      await lab.stopDnsmasq();
      await link.destroy();
    },
  };
  return lab;
}
