/**
 * Where a proxyDHCP reply may go (RFC 2131 §4.1), with the fields a client controls (giaddr,
 * ciaddr, the source address) checked first: a reply is unicast only to a relay agent the
 * administrator allows or to an address on the server's own subnet, otherwise it is broadcast on
 * the local segment or dropped. Never to an arbitrary address a datagram names (no reflection).
 */
import { networkInterfaces } from 'node:os';
import { ipv4ToNumber, isIPv4, numberToIPv4 } from '@bramble/pi';
import { DhcpError } from './errors.js';

/** An IPv4 subnet as `network/prefix` numbers. */
export interface Ipv4Subnet {
  network: number;
  prefix: number;
}

const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** Parse `10.0.0.0/24` (or a bare address, /32); throws DhcpError('CONFIG') on anything else. */
export function parseSubnet(cidr: string): Ipv4Subnet {
  const [address = '', bits = '32'] = cidr.split('/');
  const prefix = Number(bits);
  if (!isIPv4(address) || !/^\d{1,2}$/.test(bits) || prefix > 32)
    throw new DhcpError('CONFIG', `expected an IPv4 subnet like 192.168.1.0/24, got '${cidr}'`);
  return { network: (ipv4ToNumber(address) & maskOf(prefix)) >>> 0, prefix };
}

export function inSubnet(address: string, subnet: Ipv4Subnet): boolean {
  return isIPv4(address) && (ipv4ToNumber(address) & maskOf(subnet.prefix)) >>> 0 === subnet.network;
}

/** The subnets of the local interfaces that carry `address` (from the kernel's interface list). */
export function subnetsOf(address: string): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces()))
    for (const entry of list ?? [])
      if (entry.family === 'IPv4' && entry.address === address && entry.cidr) {
        const subnet = parseSubnet(entry.cidr);
        out.push(`${numberToIPv4(subnet.network)}/${subnet.prefix}`);
      }
  return out;
}

/** What the responder does with one reply. */
export type ReplyTarget =
  | { kind: 'relay' | 'unicast' | 'broadcast'; address: string; port: number }
  | { kind: 'refused'; reason: string };

export interface ReplyPolicy {
  /** Subnets the server is on: ciaddr / source unicasts and relays are allowed inside them. */
  localSubnets: readonly Ipv4Subnet[];
  /** Relay agents allowed outside the local subnets (exact addresses). */
  allowedRelays: ReadonlySet<string>;
  broadcastAddress: string;
  clientPort: number;
  relayPort: number;
}

const ZERO = '0.0.0.0';

function isLocal(policy: ReplyPolicy, address: string): boolean {
  if (address === ZERO || address === '255.255.255.255') return false;
  return policy.localSubnets.some((subnet) => inSubnet(address, subnet));
}

/**
 * RFC 2131 §4.1 reply addressing, restricted to addresses this server may answer:
 * - "If the 'giaddr' field in a DHCP message from a client is non-zero, the server sends any return
 *   messages to the 'DHCP server' port on the BOOTP relay agent whose address appears in 'giaddr'."
 *   Only for a relay on a local subnet or in `allowedRelays`; any other giaddr is refused (the client
 *   is on another segment, so a local broadcast would not reach it either).
 * - "If the 'giaddr' field is zero and the 'ciaddr' field is nonzero, then the server unicasts
 *   DHCPOFFER and DHCPACK messages to the address in 'ciaddr'." Only inside a local subnet; else the
 *   reply is broadcast, which reaches a client on this segment and nobody elsewhere.
 * - "If 'giaddr' is zero and 'ciaddr' is zero, and the broadcast bit is set, then the server
 *   broadcasts DHCPOFFER and DHCPACK messages to 0xffffffff. If the broadcast bit is not set … the
 *   server unicasts … to the client's hardware address and 'yiaddr' address." A proxy's yiaddr is 0,
 *   so it broadcasts.
 * PXE boot server requests (port 4011, PXE 2.1 §2.2.5) are answered at their source when that is a
 * local address, else broadcast to the source port.
 */
export function replyTarget(
  policy: ReplyPolicy,
  request: { giaddr: string; ciaddr: string },
  source: { address: string; port: number },
  via: 'dhcp' | 'pxe',
): ReplyTarget {
  if (request.giaddr !== ZERO) {
    if (policy.allowedRelays.has(request.giaddr) || isLocal(policy, request.giaddr))
      return { kind: 'relay', address: request.giaddr, port: policy.relayPort };
    return { kind: 'refused', reason: `relay ${request.giaddr} is not on a local subnet or allowed` };
  }
  if (via === 'pxe' && request.ciaddr !== ZERO) {
    if (isLocal(policy, source.address))
      return { kind: 'unicast', address: source.address, port: source.port };
    return { kind: 'broadcast', address: policy.broadcastAddress, port: source.port };
  }
  if (request.ciaddr !== ZERO && isLocal(policy, request.ciaddr))
    return { kind: 'unicast', address: request.ciaddr, port: policy.clientPort };
  return { kind: 'broadcast', address: policy.broadcastAddress, port: policy.clientPort };
}
