/**
 * proxyDHCP must not be a reflector: a datagram naming an off-subnet giaddr or ciaddr gets no
 * reply at that address (RFC 2131 §4.1 addressing, restricted to the server's subnet and the relays
 * it is told about). Checked in network namespaces: tshark captures everything the responder sends
 * on its interface, and the client namespace also owns the off-subnet addresses, so a reply sent
 * there would be delivered (the allowed-relay control proves it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLan, isRoot, type Lan, type Peer, requireTool, startPeer, waitFor } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClientMessage, type DhcpMessage, decodeMessage, encodeMessage } from '../src/index.js';

const here = import.meta.dirname;
const tsx = resolve(here, '../../../node_modules/.bin/tsx');
const OFF_RELAY = '203.0.113.7';
const OFF_CLIENT = '198.51.100.9';

interface Sent {
  replies: Array<{ port: number; from: string; msg: DhcpMessage }>;
  /** `dst-address:dst-port` of every UDP datagram the proxy host sent, from the capture. */
  captured: string[];
  events: Array<Record<string, unknown>>;
}

describe.runIf(isRoot())('proxyDHCP reply addressing in network namespaces (RFC 2131 §4.1)', () => {
  let lan: Lan;
  let dir: string;
  let proxyAddr: string;
  let clientAddr: string;

  beforeAll(async () => {
    requireTool('tshark');
    dir = mkdtempSync(join(tmpdir(), 'bramble-dhcp-sec-'));
    lan = await createLan('sd', ['proxy', 'client']);
    proxyAddr = lan.hosts.proxy?.address as string;
    clientAddr = lan.hosts.client?.address as string;
    const client = lan.hosts.client;
    if (!client) throw new Error('no client host');
    // The client namespace answers for the off-subnet addresses too, and the proxy's default route
    // is on-link: anything the proxy sends to them would arrive.
    for (const extra of [OFF_RELAY, OFF_CLIENT])
      await execa('ip', ['-n', client.ns.name, 'addr', 'add', `${extra}/32`, 'dev', client.ifName]);
  }, 60_000);

  afterAll(async () => {
    await lan?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Start a responder and a capture in the proxy namespace, send `packets`, collect everything. */
  async function exchange(name: string, packets: DhcpMessage[], extra: object = {}): Promise<Sent> {
    const proxyHost = lan.hosts.proxy;
    const clientHost = lan.hosts.client;
    if (!proxyHost || !clientHost) throw new Error('no hosts');
    const pcap = join(dir, `${name}.pcap`);
    const capture: Peer = startPeer([
      ...proxyHost.ns.prefix,
      requireTool('tshark'),
      '-i',
      proxyHost.ifName,
      '-f',
      `udp and src host ${proxyAddr}`,
      '-w',
      pcap,
    ]);
    let proxy: Peer | undefined;
    try {
      await waitFor(() => capture.output().includes('Capturing on'), 30_000, 100);
      proxy = startPeer([
        ...proxyHost.ns.prefix,
        tsx,
        join(here, 'peers/proxy-runner.ts'),
        JSON.stringify({ serverAddress: proxyAddr, preBound: true, extra: { replyDelayMs: 0, ...extra } }),
      ]);
      const ready = proxy;
      await waitFor(() => ready.output().includes('"event":"ready"'), 30_000, 100);
      const r = await execa(
        'ip',
        [
          'netns',
          'exec',
          clientHost.ns.name,
          tsx,
          join(here, 'peers/raw-sender.ts'),
          JSON.stringify({
            to: proxyAddr,
            listenMs: 1500,
            packets: packets.map((p) => encodeMessage(p).toString('hex')),
          }),
        ],
        { timeout: 30_000 },
      );
      const out = JSON.parse(r.stdout) as { replies: Array<{ port: number; from: string; hex: string }> };
      await new Promise((done) => setTimeout(done, 500)); // let tshark write the last frames
      await ready.stop();
      const events = ready
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      await capture.stop();
      const fields = await execa(
        requireTool('tshark'),
        ['-r', pcap, '-T', 'fields', '-e', 'ip.dst', '-e', 'udp.dstport'],
        { timeout: 30_000 },
      );
      return {
        replies: out.replies.map((x) => ({
          port: x.port,
          from: x.from,
          msg: decodeMessage(Buffer.from(x.hex, 'hex')),
        })),
        captured: fields.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => l.replace('\t', ':')),
        events,
      };
    } finally {
      await proxy?.stop();
      await capture.stop();
    }
  }

  const discover = (xid: number, fields: { giaddr?: string; ciaddr?: string }) => {
    const msg = buildClientMessage({
      kind: 'pi4',
      type: 'discover',
      mac: 'dc:a6:32:01:36:c2',
      serial: '0660cd37',
      xid,
    });
    if (fields.giaddr) msg.giaddr = fields.giaddr;
    if (fields.ciaddr) msg.ciaddr = fields.ciaddr;
    return msg;
  };

  it('sends nothing to an off-subnet giaddr or ciaddr: relays refused, ciaddr answered by broadcast', async () => {
    const sent = await exchange('default', [
      discover(1, { giaddr: OFF_RELAY }),
      discover(2, { ciaddr: OFF_CLIENT }),
      discover(3, { giaddr: clientAddr }), // a relay on the proxy's own subnet: allowed
      discover(4, { ciaddr: clientAddr }), // a configured client on the subnet: unicast
    ]);
    expect(sent.captured.filter((d) => d.startsWith(OFF_RELAY) || d.startsWith(OFF_CLIENT))).toEqual([]);
    expect(sent.captured.sort()).toEqual(
      [`255.255.255.255:68`, `${clientAddr}:67`, `${clientAddr}:68`].sort(),
    );
    const byXid = new Map(sent.replies.map((r) => [r.msg.xid, r]));
    expect(byXid.has(1)).toBe(false);
    expect(byXid.get(2)?.port).toBe(68); // the broadcast reached the client on the segment
    expect(byXid.get(3)?.port).toBe(67);
    expect(byXid.get(4)?.port).toBe(68);
    const refused = sent.events.filter((e) => e.event === 'refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ giaddr: OFF_RELAY, xid: 1 });
    expect(sent.events.find((e) => e.event === 'closed')?.stats).toMatchObject({ refused: 1, replies: 3 });
  }, 120_000);

  it('answers an off-subnet relay only when it is configured in allowedRelays', async () => {
    const sent = await exchange('allowed', [discover(5, { giaddr: OFF_RELAY })], {
      allowedRelays: [OFF_RELAY],
    });
    expect(sent.captured).toEqual([`${OFF_RELAY}:67`]);
    expect(sent.replies.map((r) => [r.msg.xid, r.port])).toEqual([[5, 67]]);
    expect(sent.events.filter((e) => e.event === 'refused')).toEqual([]);
  }, 120_000);
});
