import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildClientMessage,
  createProxyDhcp,
  DhcpError,
  DhcpMessageType,
  decodePxeVendorOptions,
  emptyMessage,
  encodeMessage,
  encodePxeVendorOptions,
  type ProxyClient,
  type ProxyDhcp,
  type ProxyOptions,
  raspberryPiBootOptions,
} from '../src/index.js';
import { type Inbox, inbox } from './helpers/udp.js';

const SERVER = '127.0.0.1';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A responder on loopback high ports whose "broadcast" and relay replies land in test sockets. */
async function setup(extra: Partial<ProxyOptions> = {}) {
  const client = await inbox();
  const relay = await inbox();
  cleanups.push(
    () => client.close(),
    () => relay.close(),
  );
  const proxy = createProxyDhcp({
    serverAddress: SERVER,
    listenAddress: '127.0.0.1',
    port: 0,
    pxePort: 0,
    clientPort: client.port,
    relayPort: relay.port,
    broadcastAddress: '127.0.0.1',
    replyDelayMs: 0,
    ...extra,
  });
  await proxy.listen();
  cleanups.push(() => proxy.close());
  const clients: ProxyClient[] = [];
  proxy.on('client', (c) => clients.push(c));
  return { proxy, client, relay, clients };
}

function send(proxy: ProxyDhcp, bytes: Buffer, via: 'dhcp' | 'pxe' = 'dhcp', from?: Inbox): Promise<void> {
  const a = proxy.address();
  const port = via === 'dhcp' ? a.port : (a.pxePort as number);
  const sock = from?.socket ?? createSocket('udp4');
  return new Promise((resolve, reject) =>
    sock.send(bytes, port, '127.0.0.1', (err) => {
      if (!from) sock.close();
      if (err) reject(err);
      else resolve();
    }),
  );
}

const pi4 = (type: 'discover' | 'request', extra = {}) =>
  buildClientMessage({ kind: 'pi4', type, mac: 'dc:a6:32:01:36:c2', serial: '0660cd37', ...extra });

describe('proxyDHCP responder (loopback)', () => {
  it('answers a Pi 4 DISCOVER with a boot OFFER: yiaddr 0, copied ids, echoed 97, exact option 43', async () => {
    const { proxy, client, clients } = await setup();
    const req = pi4('discover');
    req.flags = 0x8000;
    req.secs = 3;
    await send(proxy, encodeMessage(req));
    const [reply] = await client.take(1);
    const m = reply?.msg;
    if (!m) throw new Error('no reply');
    expect(m.op).toBe(2);
    expect(m.xid).toBe(req.xid);
    expect(m.flags).toBe(0x8000);
    expect(m.chaddr).toEqual(req.chaddr);
    expect(m.giaddr).toBe('0.0.0.0');
    expect(m.yiaddr).toBe('0.0.0.0');
    expect(m.siaddr).toBe(SERVER);
    expect([...m.options.keys()]).toEqual([53, 54, 60, 97, 66, 43]);
    expect(m.options.get(53)).toEqual(Buffer.from([DhcpMessageType.OFFER]));
    expect(m.options.get(97)).toEqual(req.options.get(97));
    expect(m.options.get(43)).toEqual(raspberryPiBootOptions({ serverAddress: SERVER }).options.get(43));
    expect(m.options.get(66)?.toString()).toBe(SERVER);
    expect(clients).toHaveLength(1);
    expect(clients[0]).toMatchObject({
      model: 'pi4',
      serial: '0660cd37',
      mac: 'dc:a6:32:01:36:c2',
      via: 'dhcp',
    });
    expect(proxy.stats).toMatchObject({ received: 1, replies: 1, badPackets: 0 });
  });

  it('sends relayed requests back to the relay (giaddr) and copies giaddr', async () => {
    const { proxy, client, relay } = await setup();
    const req = buildClientMessage({
      kind: 'pi3b+',
      type: 'discover',
      mac: 'b8:27:eb:01:02:03',
      serial: '9ffefdef',
    });
    req.giaddr = '127.0.0.1';
    req.hops = 1;
    const agentInfo = Buffer.from([1, 4, 0, 0, 0, 7, 2, 2, 0xab, 0xcd]);
    req.options.set(82, agentInfo);
    await send(proxy, encodeMessage(req));
    const [r] = await relay.take(1);
    expect(r?.msg.giaddr).toBe('127.0.0.1');
    expect([...(r?.msg.options.keys() ?? [])].at(-1)).toBe(82); // RFC 3046 §2.2: echoed last
    expect(r?.msg.options.get(82)).toEqual(agentInfo);
    expect(r?.msg.xid).toBe(0x26f30339);
    expect(client.received).toHaveLength(0);
  });

  it('unicasts to ciaddr, answers only REQUESTs addressed to it on port 67, and reports every client', async () => {
    const { proxy, client, clients } = await setup();
    // REQUEST for another server (the Pi 4 taking the router's offer): observed, not answered.
    await send(proxy, encodeMessage(pi4('request', { serverId: '10.9.9.9', requestedAddress: '10.9.9.50' })));
    // REQUEST to us from a configured client: ACK unicast to ciaddr.
    const mine = pi4('request', { serverId: SERVER, ciaddr: '127.0.0.1', xid: 77 });
    await send(proxy, encodeMessage(mine));
    const [r] = await client.take(1);
    expect(r?.msg.xid).toBe(77);
    expect(r?.msg.options.get(53)).toEqual(Buffer.from([DhcpMessageType.ACK]));
    expect(clients.map((c) => c.messageType)).toEqual([3, 3]);
    expect(clients[0]?.model).toBe('pi4'); // recognised without option 60
    expect(proxy.stats.replies).toBe(1);
    expect(proxy.stats.ignored).toBe(1);
  });

  it('ignores non-PXE clients and survives bad packets, counting them', async () => {
    const { proxy, client } = await setup();
    const bad: unknown[] = [];
    proxy.on('bad-packet', (e) => bad.push(e));
    const plain = emptyMessage(1);
    plain.chaddr = Buffer.from(`525400123456${'0'.repeat(20)}`, 'hex');
    plain.options.set(53, Buffer.from([1]));
    await send(proxy, encodeMessage(plain));
    await send(proxy, Buffer.from('not dhcp at all'));
    const truncated = encodeMessage(pi4('discover'));
    await send(proxy, Buffer.concat([truncated.subarray(0, 250), Buffer.from([60, 200, 1])]));
    const valid = pi4('discover', { xid: 4242 });
    await send(proxy, encodeMessage(valid));
    const [r] = await client.take(1);
    expect(r?.msg.xid).toBe(4242);
    expect(proxy.stats).toMatchObject({ received: 4, badPackets: 2, ignored: 1, replies: 1 });
    expect(bad).toHaveLength(2);
  });

  it('follows the decision callback: ignore, custom options, and a throwing callback', async () => {
    const seen: string[] = [];
    const { proxy, client } = await setup({
      decide: (c) => {
        seen.push(c.mac);
        if (c.mac.endsWith(':01')) return 'ignore';
        if (c.mac.endsWith(':02')) throw new Error('backend down');
        if (c.mac.endsWith(':03'))
          return { options: new Map([[67, Buffer.from('ipxe.efi')]]), file: 'ipxe.efi' };
        return 'boot';
      },
    });
    for (const last of ['01', '02', '03']) {
      await send(
        proxy,
        encodeMessage(
          buildClientMessage({ kind: 'pxe-pc', type: 'discover', mac: `52:54:00:00:00:${last}` }),
        ),
      );
    }
    const [r] = await client.take(1);
    expect(r?.msg.file).toBe('ipxe.efi');
    expect([...(r?.msg.options.keys() ?? [])]).toEqual([53, 67, 97]);
    expect(seen).toEqual(['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03']);
    expect(proxy.stats).toMatchObject({ replies: 1, ignored: 2 });
  });

  it('answers PXE boot server requests on port 4011 to their source and echoes the boot item (71)', async () => {
    const { proxy } = await setup();
    const me = await inbox();
    cleanups.push(() => me.close());
    const req = buildClientMessage({
      kind: 'pxe-pc',
      type: 'request',
      mac: '52:54:00:00:00:09',
      ciaddr: '127.0.0.1',
    });
    req.options.set(43, encodePxeVendorOptions({ bootItem: { type: 0, layer: 0 } }));
    await send(proxy, encodeMessage(req), 'pxe', me);
    const [r] = await me.take(1);
    const o43 = r?.msg.options.get(43);
    expect(o43 && decodePxeVendorOptions(o43).bootItem).toEqual({ type: 0, layer: 0 });
    expect(decodePxeVendorOptions(o43 as Buffer).bootMenu?.[0]?.description).toBe('Raspberry Pi Boot');
  });

  it('uses trailing spaces for a Pi 3B (auto) and asks the delay function per client', async () => {
    const delays: string[] = [];
    const { proxy, client } = await setup({
      replyDelayMs: (c) => {
        delays.push(c.model);
        return 0;
      },
    });
    await send(
      proxy,
      encodeMessage(buildClientMessage({ kind: 'pi3b', type: 'discover', mac: 'b8:27:eb:aa:bb:cc' })),
    );
    const [r] = await client.take(1);
    expect(r?.msg.options.get(43)?.subarray(9, 34).toString('latin1')).toBe(
      '\x09\x17\x00\x00\x14Raspberry Pi Boot   ',
    );
    expect(delays).toEqual(['pi3b']); // the constant GUID is the 3B ROM's (fixed in the 3B+)
  });

  it('adopts a pre-bound socket (systemd LISTEN_FDS) and validates options', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    const { proxy, client } = await setup({ socket: sock, pxePort: false });
    expect(proxy.address().port).toBe(sock.address().port);
    expect(proxy.address().pxePort).toBeUndefined();
    await send(proxy, encodeMessage(pi4('discover', { xid: 5 })));
    expect((await client.take(1))[0]?.msg.xid).toBe(5);
    expect(() => createProxyDhcp({ serverAddress: 'nope' })).toThrow(DhcpError);
  });
});
