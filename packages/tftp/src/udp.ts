/** UDP socket creation shared by server and client. */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';

/**
 * Address "lookup" for sockets that only ever talk to IPv4 literals (addresses come from `rinfo` or were
 * resolved once up front). Answering synchronously skips dns.lookup and a process.nextTick on every send,
 * which is a measurable share of the per-packet cost, and makes each send leave before `send()` returns.
 */
function literalLookup(
  address: string,
  _family: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  if (isIPv4(address)) callback(null, address, 4);
  else {
    const e: NodeJS.ErrnoException = new Error(`not an IPv4 literal: ${address}`);
    e.code = 'EINVAL';
    callback(e, address, 4);
  }
}

export function udp4Socket(): Socket {
  return createSocket({ type: 'udp4', lookup: literalLookup as never });
}
