/**
 * A boot network in namespaces: dnsmasq is the normal DHCP server (addresses only), the Bramble proxyDHCP
 * responder runs next to it, and scripted boot clients / udhcpc ask for addresses.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLan, isRoot, type Lan, type Peer, requireTool, startPeer, waitFor } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClientMessageOptions,
  type DhcpMessage,
  decodeMessage,
  dnsmasqConfig,
  encodeMessage,
  raspberryPiOption43,
} from '../src/index.js';

const here = import.meta.dirname;
const tsx = resolve(here, '../../../node_modules/.bin/tsx');

interface ClientResult {
  sent: string;
  replies: Array<{ from: string; hex: string; msg: DhcpMessage }>;
}

async function runClient(
  lan: Lan,
  o: ClientMessageOptions & { expect: number; timeoutMs?: number },
): Promise<ClientResult> {
  const client = lan.hosts.client;
  if (!client) throw new Error('no client host');
  await client.setMac(o.mac);
  const r = await execa(
    'ip',
    [
      'netns',
      'exec',
      client.ns.name,
      tsx,
      join(here, 'peers/dhcp-client.ts'),
      JSON.stringify({ timeoutMs: 8000, ...o }),
    ],
    { reject: false, timeout: 30_000 },
  );
  if (!r.stdout) throw new Error(`client failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { sent: string; replies: Array<{ from: string; hex: string }> };
  return {
    sent: out.sent,
    replies: out.replies.map((x) => ({ ...x, msg: decodeMessage(Buffer.from(x.hex, 'hex')) })),
  };
}

function startDnsmasq(lan: Lan, dir: string, name: string, config: string, on = 'dhcp'): Peer {
  const host = lan.hosts[on];
  if (!host) throw new Error('no dhcp host');
  const conf = join(dir, `${name}.conf`);
  // Bind to this namespace's interface, keep state in the temp dir, broadcast replies (the scripted
  // client listens on an ordinary UDP socket, not a raw one), and answer at once.
  const extra = [
    `interface=${host.ifName}`,
    'bind-interfaces',
    `dhcp-leasefile=${join(dir, `${name}.leases`)}`,
    'dhcp-broadcast',
    'no-ping',
    'user=root',
    'log-facility=-',
  ];
  writeFileSync(conf, `${config}\n${extra.join('\n')}\n`);
  return startPeer([
    ...host.ns.prefix,
    requireTool('dnsmasq'),
    '--no-daemon',
    '--conf-file=/dev/null',
    '-C',
    conf,
    '--pid-file',
  ]);
}

async function waitForOutput(peer: Peer, needle: string | RegExp, timeoutMs = 20_000) {
  await waitFor(
    () => (typeof needle === 'string' ? peer.output().includes(needle) : needle.test(peer.output())),
    timeoutMs,
    100,
  );
}

function events(peer: Peer): Array<Record<string, unknown>> {
  return peer
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const fromHost = (r: ClientResult, address: string) => r.replies.filter((x) => x.from === address);

describe.runIf(isRoot())('proxyDHCP next to dnsmasq in network namespaces', () => {
  let lan: Lan;
  let dir: string;
  let dnsmasq: Peer | undefined;
  let proxy: Peer | undefined;
  let dhcpAddr: string;
  let proxyAddr: string;

  beforeAll(async () => {
    requireTool('udhcpc');
    dir = mkdtempSync(join(tmpdir(), 'bramble-dhcp-netns-'));
    chmodSync(dir, 0o755);
    lan = await createLan('dhcp', ['dhcp', 'proxy', 'client']);
    dhcpAddr = lan.hosts.dhcp?.address as string;
    proxyAddr = lan.hosts.proxy?.address as string;
    const base = lan.subnet.replace(/\.0$/, '');
    dnsmasq = startDnsmasq(
      lan,
      dir,
      'addresses',
      ['port=0', 'log-dhcp', `dhcp-range=${base}.100,${base}.150,255.255.255.0,1h`].join('\n'),
    );
    const proxyNs = lan.hosts.proxy?.ns.name as string;
    proxy = startPeer([
      'ip',
      'netns',
      'exec',
      proxyNs,
      tsx,
      join(here, 'peers/proxy-runner.ts'),
      JSON.stringify({ serverAddress: proxyAddr, preBound: true }),
    ]);
    await waitForOutput(dnsmasq, 'DHCP, IP range');
    await waitForOutput(proxy, '"event":"ready"');
  });

  afterAll(async () => {
    await proxy?.stop();
    await dnsmasq?.stop();
    await lan?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const exactBoot = raspberryPiOption43();

  function checkPair(r: ClientResult, sent: DhcpMessage) {
    const addr = fromHost(r, dhcpAddr);
    const boot = fromHost(r, proxyAddr);
    expect(addr, 'one address offer from dnsmasq').toHaveLength(1);
    expect(boot, 'one boot offer from Bramble').toHaveLength(1);
    expect(r.replies).toHaveLength(2);
    const a = addr[0]?.msg as DhcpMessage;
    const b = boot[0]?.msg as DhcpMessage;
    expect(a.yiaddr).toMatch(/\.(1[0-4]\d|150)$/);
    expect(a.options.has(43)).toBe(false);
    expect(b.yiaddr).toBe('0.0.0.0');
    expect(b.siaddr).toBe(proxyAddr);
    expect(b.options.get(53)).toEqual(Buffer.from([2]));
    expect(b.options.get(54)).toEqual(Buffer.from(proxyAddr.split('.').map(Number)));
    expect(b.options.get(66)?.toString('latin1')).toBe(proxyAddr);
    expect(b.options.get(97)).toEqual(sent.options.get(97));
    expect(b.xid).toBe(sent.xid);
    expect(b.chaddr).toEqual(sent.chaddr);
    // Replies captured from a real peer re-encode byte for byte.
    for (const x of r.replies) expect(encodeMessage(x.msg).toString('hex')).toBe(x.hex);
    return { a, b };
  }

  it('a Pi 3B+ DISCOVER gets one address offer and one boot offer with the exact option 43', async () => {
    const o = {
      kind: 'pi3b+',
      type: 'discover',
      mac: 'b8:27:eb:12:34:56',
      serial: '9ffefdef',
      expect: 2,
    } as const;
    const r = await runClient(lan, o);
    const sent = decodeMessage(Buffer.from(r.sent, 'hex'));
    expect(sent.xid).toBe(0x26f30339);
    const { b } = checkPair(r, sent);
    expect(b.options.get(43)).toEqual(exactBoot);
    expect(b.flags).toBe(0);
    const seen = events(proxy as Peer).filter((e) => e.event === 'client' && e.mac === o.mac);
    expect(seen[0]).toMatchObject({ model: 'pi3b+', serial: '9ffefdef' });
  });

  it('a Pi 4 gets both offers, then its REQUEST (no option 60) is left to dnsmasq but reported', async () => {
    const mac = 'dc:a6:32:01:36:c2';
    const d = await runClient(lan, { kind: 'pi4', type: 'discover', mac, serial: '0660cd37', expect: 2 });
    const sent = decodeMessage(Buffer.from(d.sent, 'hex'));
    const { a, b } = checkPair(d, sent);
    expect(b.options.get(43)).toEqual(exactBoot);
    const offersBefore = events(proxy as Peer).filter((e) => e.event === 'offer').length;
    const req = await runClient(lan, {
      kind: 'pi4',
      type: 'request',
      mac,
      serial: '0660cd37',
      serverId: dhcpAddr,
      requestedAddress: a.yiaddr,
      expect: 1,
    });
    expect(req.replies).toHaveLength(1);
    expect(req.replies[0]?.from).toBe(dhcpAddr);
    expect(req.replies[0]?.msg.options.get(53)).toEqual(Buffer.from([5])); // ACK
    expect(req.replies[0]?.msg.yiaddr).toBe(a.yiaddr);
    await waitFor(() =>
      events(proxy as Peer).some((e) => e.event === 'client' && e.mac === mac && e.messageType === 3),
    );
    const seen = events(proxy as Peer).filter((e) => e.event === 'client' && e.mac === mac);
    expect(seen.map((e) => e.model)).toEqual(['pi4', 'pi4']);
    expect(seen[0]).toMatchObject({ serial: '0660cd37' });
    expect(events(proxy as Peer).filter((e) => e.event === 'offer')).toHaveLength(offersBefore);
  });

  it('a PXE PC (x64 UEFI, broadcast flag) gets both offers', async () => {
    const r = await runClient(lan, { kind: 'pxe-pc', type: 'discover', mac: '52:54:00:ab:cd:ef', expect: 2 });
    const sent = decodeMessage(Buffer.from(r.sent, 'hex'));
    const { b } = checkPair(r, sent);
    expect(b.flags).toBe(0x8000);
    expect(b.options.get(43)).toEqual(exactBoot);
  });

  /** busybox udhcpc on the client host with `mac`: the lines its script printed (`bound ip=… opt43=…`). */
  async function udhcpc(mac: string): Promise<string> {
    const client = lan.hosts.client;
    if (!client) throw new Error('no client');
    await client.setMac(mac);
    const out = join(dir, `udhcpc-${mac.replaceAll(':', '')}.out`);
    const script = join(dir, 'udhcpc.sh');
    writeFileSync(script, `#!/bin/sh\necho "$1 ip=$ip serverid=$serverid opt43=$opt43" >> "$UDHCPC_OUT"\n`);
    chmodSync(script, 0o755);
    await execa(
      'ip',
      [
        'netns',
        'exec',
        client.ns.name,
        requireTool('udhcpc'),
        '-i',
        client.ifName,
        '-f',
        '-q',
        '-n',
        '-t',
        '5',
        '-T',
        '1',
        '-s',
        script,
      ],
      { timeout: 30_000, env: { UDHCPC_OUT: out } },
    );
    return readFileSync(out, 'utf8');
  }

  function expectBoundByDnsmasq(lines: string): void {
    const bound = lines.split('\n').find((l) => l.startsWith('bound'));
    expect(bound, lines).toMatch(
      new RegExp(
        `ip=${lan.subnet.replace(/\.0$/, '').replaceAll('.', '\\.')}\\.(1[0-4]\\d|150) serverid=${dhcpAddr.replaceAll('.', '\\.')} opt43=$`,
      ),
    );
  }

  it('udhcpc obtains an address from dnsmasq without being disturbed by the proxy', async () => {
    const offersBefore = events(proxy as Peer).filter((e) => e.event === 'offer').length;
    expectBoundByDnsmasq(await udhcpc('02:00:00:00:00:77'));
    expect(events(proxy as Peer).filter((e) => e.event === 'offer')).toHaveLength(offersBefore);
    expect(events(proxy as Peer).some((e) => e.event === 'client' && e.mac === '02:00:00:00:00:77')).toBe(
      false,
    );
    expect(events(proxy as Peer).some((e) => e.event === 'bad-packet')).toBe(false);
  });

  it('the Linux on a booted Pi (udhcpc from a Pi MAC) gets its address from dnsmasq and no proxy reply', async () => {
    // Both a Pi 4 and a Pi 3 prefix (the Pi 3 family's replies are delayed 1 s: wait past that).
    for (const mac of ['dc:a6:32:aa:bb:01', 'b8:27:eb:aa:bb:02']) {
      const offersBefore = events(proxy as Peer).filter((e) => e.event === 'offer').length;
      expectBoundByDnsmasq(await udhcpc(mac));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(
        events(proxy as Peer).filter((e) => e.event === 'offer'),
        mac,
      ).toHaveLength(offersBefore);
      expect(
        events(proxy as Peer).some((e) => e.event === 'client' && e.mac === mac),
        mac,
      ).toBe(false);
    }
    // The same MAC's boot firmware is still answered.
    const r = await runClient(lan, {
      kind: 'pi4',
      type: 'discover',
      mac: 'dc:a6:32:aa:bb:01',
      serial: '0a0b0c0d',
      expect: 2,
    });
    checkPair(r, decodeMessage(Buffer.from(r.sent, 'hex')));
  });

  it('dnsmasq as proxy from dnsmasqConfig() answers like the Bramble responder', async () => {
    await proxy?.stop();
    proxy = undefined;
    const cfg = dnsmasqConfig({
      serverAddress: proxyAddr,
      mode: 'proxy',
      subnet: { network: lan.subnet, netmask: '255.255.255.0' },
    });
    const dnsProxy = startDnsmasq(lan, dir, 'proxy', cfg, 'proxy');
    try {
      await waitForOutput(dnsProxy, /proxy on subnet/);
      const r = await runClient(lan, {
        kind: 'pi4',
        type: 'discover',
        mac: 'd8:3a:dd:00:00:07',
        serial: 'cafe0001',
        expect: 2,
      });
      const sent = decodeMessage(Buffer.from(r.sent, 'hex'));
      const [theirs] = fromHost(r, proxyAddr);
      expect(fromHost(r, dhcpAddr)).toHaveLength(1);
      const m = theirs?.msg as DhcpMessage;
      expect(m.yiaddr).toBe('0.0.0.0');
      expect(m.options.get(43)).toEqual(exactBoot);
      expect(m.options.get(60)?.toString()).toBe('PXEClient');
      expect(m.options.get(54)).toEqual(Buffer.from(proxyAddr.split('.').map(Number)));
      expect(m.options.get(97)).toEqual(sent.options.get(97));
      expect(encodeMessage(m).toString('hex')).toBe(theirs?.hex);
    } finally {
      await dnsProxy.stop();
    }
  });

  it('dnsmasq in full mode from dnsmasqConfig() sends the same option 43 bytes Bramble builds', async () => {
    await proxy?.stop();
    await dnsmasq?.stop();
    proxy = undefined;
    const base = lan.subnet.replace(/\.0$/, '');
    const cfg = dnsmasqConfig({
      serverAddress: dhcpAddr,
      mode: 'full',
      subnet: {
        network: lan.subnet,
        netmask: '255.255.255.0',
        rangeStart: `${base}.160`,
        rangeEnd: `${base}.170`,
      },
    });
    dnsmasq = startDnsmasq(lan, dir, 'full', cfg);
    await waitForOutput(dnsmasq, 'DHCP, IP range');
    const r = await runClient(lan, {
      kind: 'pi4',
      type: 'discover',
      mac: 'e4:5f:01:00:00:42',
      serial: '1234abcd',
      expect: 1,
    });
    expect(r.replies).toHaveLength(1);
    const m = r.replies[0]?.msg as DhcpMessage;
    expect(m.yiaddr).toMatch(/\.1[6-7]\d$/);
    expect(m.options.get(43)).toEqual(exactBoot);
    expect(m.options.get(60)?.toString()).toBe('PXEClient');
    expect(m.options.get(54)).toEqual(Buffer.from(dhcpAddr.split('.').map(Number))); // TFTP = this server
    expect(m.options.has(66)).toBe(false); // dnsmasq would append a NUL; not needed when it serves TFTP itself
    expect(encodeMessage(m).toString('hex')).toBe(r.replies[0]?.hex);
  });
});
