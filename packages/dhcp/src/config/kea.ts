/** Kea DHCPv4 configuration (Kea ARM: "The DHCPv4 Server", client classification, option 43). */
import { definedOnly } from '@bramble/pi';
import { DhcpConfigError } from '../errors.js';
import { RASPBERRY_PI_MAC_PREFIXES, raspberryPiOption43 } from '../raspberry-pi.js';
import {
  type BootNetwork,
  nodesWithMac,
  parseBootNetwork,
  prefixLength,
  usesTrailingSpaces,
} from './boot-network.js';

/**
 * Kea `Dhcp4` configuration object (serialise with JSON.stringify) for a boot network in full mode.
 * Option 43 is sent as raw hex (`csv-format: false`) with the exact PXE bytes dnsmasq sends.
 */
export function keaConfig(input: BootNetwork): object {
  const d = parseBootNetwork(input);
  if (d.mode !== 'full') {
    throw new DhcpConfigError(
      'UNSUPPORTED_MODE',
      'Kea cannot run as a proxyDHCP server; use mode "full", or dnsmasqConfig()/createProxyDhcp() for proxy mode',
    );
  }
  const tftp = d.tftpServer ?? d.serverAddress;
  const s = d.subnet;
  const pxe = "substring(option[60].hex,0,9) == 'PXEClient'";
  const macs = RASPBERRY_PI_MAC_PREFIXES.map((p) => `substring(pkt4.mac,0,3) == 0x${p.replaceAll(':', '')}`);
  const known = nodesWithMac(d).map((n) => `pkt4.mac == 0x${n.mac.replaceAll(':', '')}`);
  const test = d.onlyKnownNodes ? known.join(' or ') || 'false' : [pxe, ...macs].join(' or ');
  const subnetOptions: object[] = [];
  if (s.router) subnetOptions.push({ name: 'routers', data: s.router });
  if (s.dnsServers.length > 0)
    subnetOptions.push({ name: 'domain-name-servers', data: s.dnsServers.join(', ') });
  return {
    Dhcp4: {
      'interfaces-config': { interfaces: [d.interface ?? '*'] },
      'lease-database': { type: 'memfile', 'lfc-interval': 3600 },
      'valid-lifetime': s.leaseSeconds,
      'client-classes': [
        {
          name: 'bramble-netboot',
          test,
          'next-server': tftp,
          // Option 43 is redefined as binary for this class so Kea sends the bytes verbatim.
          'option-def': [{ name: 'vendor-encapsulated-options', code: 43, type: 'binary' }],
          'option-data': [
            { name: 'vendor-class-identifier', data: 'PXEClient' },
            {
              name: 'vendor-encapsulated-options',
              code: 43,
              'csv-format': false,
              data: raspberryPiOption43(usesTrailingSpaces(d)).toString('hex').toUpperCase(),
            },
            { name: 'tftp-server-name', data: tftp },
          ],
        },
      ],
      subnet4: [
        {
          id: 1,
          subnet: `${s.network}/${prefixLength(s.netmask)}`,
          pools: s.rangeStart && s.rangeEnd ? [{ pool: `${s.rangeStart} - ${s.rangeEnd}` }] : [],
          'option-data': subnetOptions,
          reservations: nodesWithMac(d)
            .filter((n) => n.address || n.hostname)
            .map((n) => ({
              'hw-address': n.mac,
              ...definedOnly({ 'ip-address': n.address, hostname: n.hostname }),
            })),
        },
      ],
    },
  };
}
