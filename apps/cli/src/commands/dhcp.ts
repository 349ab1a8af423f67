import type { LoadedManifest } from '@bramble/manifest';
import { type Command, Option } from 'commander';
import { globals, manifestFor, outputFor } from '../context.js';
import { type BootNetwork, loadDhcp } from '../packages.js';

const ipToNum = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const numToIp = (n: number) => [24, 16, 8, 0].map((b) => Math.floor(n / 2 ** b) % 256).join('.');

/** `192.168.1.0/24` (or the server's /24 when not given) -> network and netmask. */
export function subnetOf(cidr: string | undefined, server: string): { network: string; netmask: string } {
  const [net, bitsText] = (cidr ?? `${server}/24`).split('/');
  const bits = Math.max(0, Math.min(32, Number(bitsText ?? 24)));
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { network: numToIp((ipToNum(net ?? server) & mask) >>> 0), netmask: numToIp(mask) };
}

/** The @bramble/dhcp BootNetwork for this manifest: proxy (boot options only) or full (addresses too). */
export function bootNetwork(m: LoadedManifest, mode: 'proxy' | 'full'): BootNetwork {
  const d = m.manifest.dhcp;
  return {
    serverAddress: m.manifest.server.address,
    mode,
    ...(m.manifest.server.interface !== undefined ? { interface: m.manifest.server.interface } : {}),
    subnet: {
      ...subnetOf(d.subnet, m.manifest.server.address),
      ...(d.rangeStart !== undefined ? { rangeStart: d.rangeStart } : {}),
      ...(d.rangeEnd !== undefined ? { rangeEnd: d.rangeEnd } : {}),
      ...(d.router !== undefined ? { router: d.router } : {}),
      ...(d.dns !== undefined ? { dnsServers: d.dns } : {}),
    },
    nodes: m.manifest.nodes.flatMap((n) =>
      n.mac === undefined
        ? []
        : [{ mac: n.mac, hostname: n.hostname, ...(n.address !== undefined ? { address: n.address } : {}) }],
    ),
  };
}

export async function dhcpConfigText(m: LoadedManifest, format: string): Promise<string> {
  const dhcp = await loadDhcp();
  switch (format) {
    case 'dnsmasq':
      return dhcp.dnsmasqConfig(bootNetwork(m, m.manifest.dhcp.rangeStart ? 'full' : 'proxy'));
    case 'dnsmasq-proxy':
      return dhcp.dnsmasqConfig(bootNetwork(m, 'proxy'));
    case 'isc':
      return dhcp.iscDhcpdConfig(bootNetwork(m, 'full'));
    default:
      return `${JSON.stringify(dhcp.keaConfig(bootNetwork(m, 'full')), null, 2)}\n`;
  }
}

export function register(program: Command): void {
  const dhcp = program
    .command('dhcp')
    .description('DHCP server configuration for network-booting the Pis')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble dhcp config --format dnsmasq\n  bramble dhcp config --format kea',
    );
  dhcp
    .command('config')
    .description('print the configuration your DHCP server needs to boot the nodes')
    .addOption(
      new Option('--format <format>', 'server flavour')
        .choices(['dnsmasq', 'dnsmasq-proxy', 'isc', 'kea'])
        .default('dnsmasq'),
    )
    .addHelpText(
      'after',
      `
Examples:
  bramble dhcp config --format dnsmasq > /etc/dnsmasq.d/bramble.conf
  bramble dhcp config --format dnsmasq-proxy   # next to an existing DHCP server you cannot change
  bramble dhcp config --format kea > kea-dhcp4.json`,
    )
    .action(async (o: { format: string }, cmd: Command) => {
      const g = globals(cmd);
      const m = await manifestFor(g);
      outputFor(g).raw(await dhcpConfigText(m, o.format));
    });
}
