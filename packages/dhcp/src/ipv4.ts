import { DhcpEncodeError } from './errors.js';

const QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for a dotted-quad IPv4 address such as `10.0.0.1`. */
export function isIPv4(s: string): boolean {
  return QUAD.test(s);
}

/** Write a dotted quad into `buf` at `offset` (4 bytes). */
export function writeIPv4(buf: Uint8Array, offset: number, address: string): void {
  if (!isIPv4(address)) throw new DhcpEncodeError(`expected a dotted-quad IPv4 address, got '${address}'`);
  const parts = address.split('.');
  for (let i = 0; i < 4; i++) buf[offset + i] = Number(parts[i]);
}

/** Read 4 bytes at `offset` as a dotted quad. */
export function readIPv4(buf: Uint8Array, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

export function ipv4ToBuffer(address: string): Buffer {
  const b = Buffer.alloc(4);
  writeIPv4(b, 0, address);
  return b;
}

export function ipv4ToNumber(address: string): number {
  return ipv4ToBuffer(address).readUInt32BE(0);
}

export function numberToIPv4(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return readIPv4(b, 0);
}
