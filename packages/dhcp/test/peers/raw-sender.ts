/**
 * Sends crafted DHCP datagrams from inside a namespace and prints what comes back
 * (`ip netns exec <ns> tsx raw-sender.ts '<json>'`): each packet goes from port 68 to
 * `to`:67; replies are collected on ports 68 (client) and 67 (relay) for `listenMs` ms.
 */
import { createSocket, type Socket } from 'node:dgram';

const args = JSON.parse(process.argv[2] ?? '{}') as { packets: string[]; to: string; listenMs: number };
const replies: Array<{ port: number; from: string; hex: string }> = [];

function open(port: number): Promise<Socket> {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  sock.on('message', (raw, rinfo) => replies.push({ port, from: rinfo.address, hex: raw.toString('hex') }));
  return new Promise((resolve) =>
    sock.bind(port, '0.0.0.0', () => {
      sock.setBroadcast(true);
      resolve(sock);
    }),
  );
}

async function main() {
  const client = await open(68);
  const relay = await open(67);
  for (const hex of args.packets)
    await new Promise<void>((resolve, reject) =>
      client.send(Buffer.from(hex, 'hex'), 67, args.to, (err) => (err ? reject(err) : resolve())),
    );
  await new Promise((resolve) => setTimeout(resolve, args.listenMs));
  process.stdout.write(`${JSON.stringify({ replies })}\n`);
  client.close();
  relay.close();
}

main().catch((e) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(2);
});
