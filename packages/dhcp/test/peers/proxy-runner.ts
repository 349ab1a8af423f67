/**
 * Runs the Bramble proxyDHCP responder inside a network namespace for the integration test
 * (`ip netns exec <ns> tsx proxy-runner.ts '<json options>'`). Prints one JSON line per event.
 */
import { createSocket } from 'node:dgram';
import { createProxyDhcp, type ProxyOptions } from '../../src/index.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as {
  serverAddress: string;
  preBound?: boolean;
  /** Further responder options (allowedRelays, localSubnets, replyDelayMs, ...). */
  extra?: Partial<ProxyOptions>;
};
const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main() {
  let socket: ReturnType<typeof createSocket> | undefined;
  if (opts.preBound) {
    // What a systemd socket unit hands over: an already bound UDP socket on port 67.
    socket = createSocket({ type: 'udp4', reuseAddr: true });
    const s = socket;
    await new Promise<void>((resolve) => s.bind(67, '0.0.0.0', () => resolve()));
  }
  const proxy = createProxyDhcp({
    serverAddress: opts.serverAddress,
    ...opts.extra,
    ...(socket ? { socket } : {}),
  });
  proxy.on('client', (c) =>
    print({
      event: 'client',
      model: c.model,
      serial: c.serial,
      mac: c.mac,
      messageType: c.messageType,
      via: c.via,
    }),
  );
  proxy.on('offer', (o) => print({ event: 'offer', ...o }));
  proxy.on('refused', (r) => print({ event: 'refused', ...r }));
  proxy.on('bad-packet', (b) =>
    print({ event: 'bad-packet', from: b.remoteAddress, error: b.error.message }),
  );
  await proxy.listen();
  print({ event: 'ready', ...proxy.address() });
  const stop = async () => {
    await proxy.close();
    print({ event: 'closed', stats: proxy.stats });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((e) => {
  print({ event: 'fatal', error: String(e) });
  process.exit(1);
});
