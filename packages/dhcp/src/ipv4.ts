import { ipv4Bytes, isIPv4, PiError } from '@bramble/pi';
import { DhcpEncodeError } from './errors.js';

/** IPv4 in the codec: @bramble/pi owns the address rule; this file only reads and writes the 4 header bytes. */
export { isIPv4 };

/** Write a dotted quad into `buf` at `offset` (4 bytes). */
export function writeIPv4(buf: Uint8Array, offset: number, address: string): void {
  buf.set(ipv4ToBuffer(address), offset);
}

/** Read 4 bytes at `offset` as a dotted quad. */
export function readIPv4(buf: Uint8Array, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

export function ipv4ToBuffer(address: string): Buffer {
  try {
    return ipv4Bytes(address);
  } catch (error) {
    if (!(error instanceof PiError)) throw error;
    throw new DhcpEncodeError(`expected a dotted-quad IPv4 address, got '${address}'`);
  }
}
