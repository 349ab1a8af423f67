import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  createLan,
  type Lan,
  type LanHost,
  type Peer,
  requireTool,
  startPeer,
  waitFor,
} from '@bramble/testkit';
import type { BootReport } from '../../src/index.js';

const run = promisify(execFile);
const here = import.meta.dirname;
const TSX = resolve(here, '../../../../node_modules/.bin/tsx');
const RUNNER = resolve(here, 'ns-runner.ts');
const TSCONFIG = resolve(here, 'tsconfig.ns.json');

/**
 * A LAN of namespaces on one bridge (testkit createLan): `server` and `proxy` run DHCP servers, `pi` runs the
 * virtual Pi. dnsmasq is configured as the official Raspberry Pi network-boot guide does and nothing more: no
 * `dhcp-broadcast`, so it answers a client without the broadcast flag by unicast to the offered address.
 */
export interface DnsmasqLan {
  lan: Lan;
  server: LanHost;
  proxy: LanHost;
  pi: LanHost;
  /** Start dnsmasq on `host`: full DHCP (addresses .100-.199) or proxyDHCP, PXE menu, TFTP from `tftpRoot`. */
  startDnsmasq(host: LanHost, o: { tftpRoot: string; proxy?: boolean; pxe?: string }): Promise<Peer>;
  /** Boot in the `pi` namespace (real ports 67/68). */
  boot(o: Record<string, unknown>, timeoutMs?: number): Promise<BootReport>;
  destroy(): Promise<void>;
}

export async function createDnsmasqLan(tag: string): Promise<DnsmasqLan> {
  const dnsmasqBin = requireTool('dnsmasq');
  requireTool('ip');
  const lan = await createLan(tag, ['server', 'proxy', 'pi']);
  const peers: Peer[] = [];
  const files: string[] = [];
  const subnet = lan.subnet.split('.').slice(0, 3).join('.');
  const host = (name: string): LanHost => {
    const h = lan.hosts[name];
    if (!h) throw new Error(`no host ${name}`);
    return h;
  };
  return {
    lan,
    server: host('server'),
    proxy: host('proxy'),
    pi: host('pi'),
    async startDnsmasq(h, o) {
      const conf = `${o.tftpRoot}.${h.name}.dnsmasq.conf`;
      const leases = `${o.tftpRoot}.${h.name}.leases`;
      files.push(conf, leases);
      const lines = [
        'port=0',
        `interface=${h.ifName}`,
        'bind-interfaces',
        o.proxy ? `dhcp-range=${subnet}.255,proxy` : `dhcp-range=${subnet}.100,${subnet}.199,255.255.255.0`,
        'log-dhcp',
        `pxe-service=0,"${o.pxe ?? 'Raspberry Pi Boot'}"`,
        'enable-tftp',
        `tftp-root=${o.tftpRoot}`,
        'no-hosts',
        'user=root',
        'group=root',
        `dhcp-leasefile=${leases}`,
        'no-ping',
      ];
      await writeFile(conf, `${lines.join('\n')}\n`);
      const peer = startPeer([...h.ns.prefix, dnsmasqBin, '-d', '--pid-file=', `--conf-file=${conf}`]);
      peers.push(peer);
      await waitFor(() => peer.output().includes('TFTP root is') || peer.proc.exitCode !== null, 10_000);
      if (peer.proc.exitCode !== null) throw new Error(`dnsmasq exited: ${peer.output()}`);
      return peer;
    },
    async boot(o, timeoutMs = 60_000) {
      const pi = host('pi');
      const r = await run(
        pi.ns.prefix[0] ?? 'ip',
        [...pi.ns.prefix.slice(1), TSX, '--tsconfig', TSCONFIG, RUNNER, JSON.stringify(o)],
        { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      );
      return JSON.parse(r.stdout) as BootReport;
    },
    async destroy() {
      for (const peer of peers.splice(0)) await peer.stop();
      for (const f of files.splice(0)) await rm(f, { force: true });
      await lan.destroy();
    },
  };
}
