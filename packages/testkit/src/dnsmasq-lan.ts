import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLan, type Lan, type LanHost } from './dhcp-lan.js';
import type { NetNs } from './netns.js';
import { type Peer, startPeer, waitFor } from './process.js';
import { requireTool } from './tools.js';

/**
 * The dnsmasq lines of the official Raspberry Pi network-boot guide and nothing more: full DHCP
 * (addresses .100-.199 of `subnet`, its first three octets) or proxyDHCP, and the PXE menu item
 * `pxe` ("Raspberry Pi Boot" by default; false leaves it out). No `dhcp-broadcast`.
 */
export function guideDnsmasqLines(options: {
  ifName: string;
  subnet: string;
  proxy?: boolean | undefined;
  pxe?: string | false | undefined;
}): string[] {
  const { ifName, subnet } = options;
  return [
    'port=0',
    `interface=${ifName}`,
    'bind-interfaces',
    options.proxy ? `dhcp-range=${subnet}.255,proxy` : `dhcp-range=${subnet}.100,${subnet}.199,255.255.255.0`,
    'log-dhcp',
    ...(options.pxe === false ? [] : [`pxe-service=0,"${options.pxe ?? 'Raspberry Pi Boot'}"`]),
  ];
}

/**
 * Run `dnsmasq -d` in `ns` with `lines` as its config file `conf` (a file, so dnsmasq unquotes
 * "Raspberry Pi Boot" as it does in /etc/dnsmasq.conf), running as root with TFTP from `tftpRoot`.
 * Resolves once its TFTP server is up; throws with its output when it exits instead.
 */
export async function startDnsmasq(
  ns: NetNs,
  options: { conf: string; leaseFile: string; tftpRoot: string; lines: readonly string[] },
): Promise<Peer> {
  const lines = [
    ...options.lines,
    'no-hosts',
    'user=root',
    'group=root',
    `dhcp-leasefile=${options.leaseFile}`,
    'no-ping',
    'enable-tftp',
    `tftp-root=${options.tftpRoot}`,
  ];
  await writeFile(options.conf, `${lines.join('\n')}\n`);
  const peer = startPeer([
    ...ns.prefix,
    requireTool('dnsmasq'),
    '-d',
    '--pid-file=',
    `--conf-file=${options.conf}`,
  ]);
  try {
    await waitFor(() => peer.output().includes('TFTP root is') || peer.proc.exitCode !== null, 10_000);
  } catch (e) {
    await peer.stop();
    throw new Error(`dnsmasq did not start: ${(e as Error).message}\n${peer.output()}`);
  }
  if (peer.proc.exitCode !== null) throw new Error(`dnsmasq exited: ${peer.output()}`);
  return peer;
}

/**
 * A LAN of namespaces on one bridge ({@link createLan}): `server` and `proxy` run DHCP servers, `pi` the
 * client under test. dnsmasq is configured as the official Raspberry Pi network-boot guide does
 * ({@link guideDnsmasqLines}): without `dhcp-broadcast` it answers a client without the broadcast flag
 * by unicast to the offered address.
 */
export interface DnsmasqLan {
  readonly lan: Lan;
  readonly server: LanHost;
  readonly proxy: LanHost;
  readonly pi: LanHost;
  /** Start dnsmasq on `host`: full DHCP (addresses .100-.199) or proxyDHCP, PXE menu, TFTP from `tftpRoot`. */
  startDnsmasq(host: LanHost, options: { tftpRoot: string; proxy?: boolean; pxe?: string }): Promise<Peer>;
  /** Stop every dnsmasq started so far. */
  stopDnsmasq(): Promise<void>;
  destroy(): Promise<void>;
}

export async function createDnsmasqLan(tag: string): Promise<DnsmasqLan> {
  requireTool('dnsmasq');
  requireTool('ip');
  const lan = await createLan(tag, ['server', 'proxy', 'pi']);
  const dir = await mkdtemp(join(tmpdir(), 'bramble-dnsmasq-lan-'));
  const peers: Peer[] = [];
  const subnet = lan.subnet.split('.').slice(0, 3).join('.');
  const host = (name: string): LanHost => {
    const found = lan.hosts[name];
    if (!found) throw new Error(`no host ${name}`);
    return found;
  };
  let started = 0;
  const stopDnsmasq = async () => {
    for (const peer of peers.splice(0)) await peer.stop();
  };
  return {
    lan,
    server: host('server'),
    proxy: host('proxy'),
    pi: host('pi'),
    async startDnsmasq(on, options) {
      started += 1;
      const name = `${on.name}-${started}`;
      const peer = await startDnsmasq(on.ns, {
        conf: join(dir, `${name}.conf`),
        leaseFile: join(dir, `${name}.leases`),
        tftpRoot: options.tftpRoot,
        lines: guideDnsmasqLines({ ifName: on.ifName, subnet, proxy: options.proxy, pxe: options.pxe }),
      });
      peers.push(peer);
      return peer;
    },
    stopDnsmasq,
    async destroy() {
      await stopDnsmasq();
      await lan.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
