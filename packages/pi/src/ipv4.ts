import { z } from 'zod';
import { PiError } from './errors.js';

/** Dotted quad, four decimal octets 0-255 without leading zeros (RFC 791 §3.2 addresses; no octal forms). */
const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(address: string): boolean {
  return DOTTED_QUAD.test(address);
}

/** `10.0.0.1` → 0x0a000001; throws PiError('INVALID_IPV4'). */
export function ipv4ToNumber(address: string): number {
  if (!isIPv4(address)) {
    throw new PiError('INVALID_IPV4', `'${address}' is not an IPv4 address like 192.168.1.10`);
  }
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0) >>> 0;
}

export function numberToIPv4(value: number): string {
  const n = value >>> 0;
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join('.');
}

/** The four bytes of an address, network order. */
export function ipv4Bytes(address: string): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(ipv4ToNumber(address), 0);
  return out;
}

/** Netmask of a prefix length: 24 → 255.255.255.0. */
export function prefixToNetmask(bits: number): string {
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) {
    throw new PiError('INVALID_IPV4', `prefix length ${bits} is not 0-32`);
  }
  return numberToIPv4(bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
}

/** Prefix length of a contiguous netmask: 255.255.255.0 → 24; throws for a non-contiguous mask. */
export function netmaskToPrefix(netmask: string): number {
  const bits = ipv4ToNumber(netmask).toString(2).padStart(32, '0');
  if (!/^1*0*$/.test(bits)) throw new PiError('INVALID_IPV4', `netmask ${netmask} is not contiguous`);
  return bits.replaceAll('0', '').length;
}

/** `192.168.1.7/24` → `{ network: '192.168.1.0', netmask: '255.255.255.0', prefix: 24 }`. */
export function parseIPv4Cidr(cidr: string): { network: string; netmask: string; prefix: number } {
  const [address = '', bitsText] = cidr.trim().split('/');
  const prefix = bitsText === undefined ? 32 : Number(bitsText);
  if (bitsText !== undefined && !/^\d{1,2}$/.test(bitsText)) {
    throw new PiError('INVALID_IPV4', `'${cidr}' is not ADDRESS/BITS like 192.168.1.0/24`);
  }
  const netmask = prefixToNetmask(prefix);
  const network = numberToIPv4((ipv4ToNumber(address) & ipv4ToNumber(netmask)) >>> 0);
  return { network, netmask, prefix };
}

/** True when `address` lies in `network`/`netmask`. */
export function ipv4InSubnet(address: string, network: string, netmask: string): boolean {
  const mask = ipv4ToNumber(netmask);
  return (ipv4ToNumber(address) & mask) >>> 0 === (ipv4ToNumber(network) & mask) >>> 0;
}

/** zod schema for an IPv4 address in any config or manifest. */
export const Ipv4Schema = z.string().regex(DOTTED_QUAD, 'expected an IPv4 address like 192.168.1.10');
