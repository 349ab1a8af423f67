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
export function bootNetwork(manifest: LoadedManifest, mode: 'proxy' | 'full'): BootNetwork {
  const d = manifest.manifest.dhcp;
  return {
    serverAddress: manifest.manifest.server.address,
    mode,
    ...definedOnly({ interface: manifest.manifest.server.interface }),
    subnet: {
      ...subnetOf(d.subnet, manifest.manifest.server.address),
      ...definedOnly({ rangeStart: d.rangeStart, rangeEnd: d.rangeEnd, router: d.router, dnsServers: d.dns }),
    },
    nodes: manifest.manifest.nodes.map((n) =>
      definedOnly({ hostname: n.hostname, mac: n.mac, address: n.address, model: n.model }),
    ),
  };
}

export async function dhcpConfigText(manifest: LoadedManifest, format: string): Promise<string> {
  const dhcp = await loadDhcp();
  switch (format) {
    case 'dnsmasq':
      return dhcp.dnsmasqConfig(bootNetwork(manifest, manifest.manifest.dhcp.rangeStart ? 'full' : 'proxy'));
    case 'dnsmasq-proxy':
      return dhcp.dnsmasqConfig(bootNetwork(manifest, 'proxy'));
    case 'isc':
      return dhcp.iscDhcpdConfig(bootNetwork(manifest, 'full'));
    default:
      return `${JSON.stringify(dhcp.keaConfig(bootNetwork(manifest, 'full')), null, 2)}\n`;
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
    .action(async (options: { format: string }, cmd: Command) => {
      const globalOptions = globals(cmd);
      const manifest = await manifestFor(globalOptions);
      outputFor(globalOptions).raw(await dhcpConfigText(manifest, options.format));
    });
}
