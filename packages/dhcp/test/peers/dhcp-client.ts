/**
 * Scripted boot client for the integration test: sends the exact DISCOVER/REQUEST a Pi 3B+, Pi 4 or
 * PXE PC sends (broadcast from port 68) and prints every reply for its xid + MAC as JSON.
 * `ip netns exec <ns> tsx dhcp-client.ts '<json>'`; exits after `expect` replies or `timeoutMs`.
 */
import { createSocket } from 'node:dgram';
import {
  buildClientMessage,
  type ClientMessageOptions,
  decodeMessage,
  encodeMessage,
} from '../../src/index.js';

const args = JSON.parse(process.argv[2] ?? '{}') as ClientMessageOptions & {
  expect: number;
  timeoutMs: number;
};
const msg = buildClientMessage(args);
const bytes = encodeMessage(msg);
const replies: Array<{ from: string; hex: string }> = [];
const sock = createSocket({ type: 'udp4', reuseAddr: true });

function finish(code: number) {
  process.stdout.write(`${JSON.stringify({ sent: bytes.toString('hex'), replies })}\n`);
  sock.close();
  process.exit(code);
}

sock.on('message', (raw, rinfo) => {
  try {
    const m = decodeMessage(raw);
    if (m.op !== 2 || m.xid !== msg.xid || !m.chaddr.equals(msg.chaddr)) return;
  } catch {
    return;
  }
  replies.push({ from: rinfo.address, hex: raw.toString('hex') });
  if (replies.length >= args.expect) setTimeout(() => finish(0), 300); // let a duplicate show up if any
});
sock.bind(68, '0.0.0.0', () => {
  sock.setBroadcast(true);
  sock.send(bytes, 67, '255.255.255.255', (err) => {
    if (err) {
      process.stderr.write(`send failed: ${err.message}\n`);
      finish(2);
    }
  });
  setTimeout(() => finish(replies.length >= args.expect ? 0 : 1), args.timeoutMs);
});
