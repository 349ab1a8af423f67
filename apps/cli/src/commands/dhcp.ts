import type { LoadedManifest } from '@bramble/manifest';
import { definedOnly, parseIPv4Cidr } from '@bramble/pi';
import { type Command, Option } from 'commander';
import { globals, manifestFor, outputFor } from '../context.js';
import { type BootNetwork, loadDhcp } from '../packages.js';

/** `192.168.1.0/24` (or the server's /24 when not given) -> network and netmask. */
export function subnetOf(cidr: string | undefined, server: string): { network: string; netmask: string } {
  const { network, netmask } = parseIPv4Cidr(cidr ?? `${server}/24`);
  return { network, netmask };
}

/**
 * The @bramble/dhcp BootNetwork for this manifest: proxy (boot options only) or full (addresses too).
 * Every node goes in with its model, so the generators pick option 43 from the model table (a `pi3b`
 * gets the trailing spaces); nodes without a MAC get no host line.
 */
export function bootNetwork(m: LoadedManifest, mode: 'proxy' | 'full'): BootNetwork {
  const d = m.manifest.dhcp;
  return {
    serverAddress: m.manifest.server.address,
    mode,
    ...definedOnly({ interface: m.manifest.server.interface }),
    subnet: {
      ...subnetOf(d.subnet, m.manifest.server.address),
      ...definedOnly({ rangeStart: d.rangeStart, rangeEnd: d.rangeEnd, router: d.router, dnsServers: d.dns }),
    },
    nodes: m.manifest.nodes.map((n) =>
      definedOnly({ hostname: n.hostname, mac: n.mac, address: n.address, model: n.model }),
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
