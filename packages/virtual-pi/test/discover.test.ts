import { createDnsmasqLan, type DnsmasqLan, isRoot } from '@bramble/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BootReport } from '../src/index.js';
import { bootInNamespace } from './helpers/ns-boot.js';
import { makeTftpTree, type Tree } from './helpers/tree.js';

/**
 * A virtual Pi that knows no server: it broadcasts DHCPDISCOVER on its interface and follows the offers, against
 * real dnsmasq configured as the official guide says (without `dhcp-broadcast`, which the older tests relied on).
 */
describe.runIf(isRoot())('virtual Pi discovering DHCP servers on a LAN of namespaces', () => {
  let env: DnsmasqLan;
  let tree: Tree;
  const serial = '7a1b2c3d';
  const window = { attempts: 2, retryIntervalMs: 3000 };

  beforeAll(async () => {
    env = await createDnsmasqLan('dd');
    tree = await makeTftpTree({ dirs: [serial, '6b8b4567'], nfsServer: env.server.address });
  });
  afterEach(async () => {
    // Each test starts its own servers.
    await env.stopDnsmasq();
  });
  /** Boot in the `pi` namespace (real ports 67/68). */
  const boot = (options: Record<string, unknown>): Promise<BootReport> => bootInNamespace(env.pi.ns, options);
  afterAll(async () => {
    await env?.destroy();
    await tree?.cleanup();
  });

  it("pi4 broadcasts on its interface, reports dnsmasq's offer and boots from it", async () => {
    await env.startDnsmasq(env.server, { tftpRoot: tree.root });
    const r = await boot({
      model: 'pi4',
      serial,
      dhcp: { server: '255.255.255.255', interface: env.pi.ifName, ...window },
    });
    expect(r.verdict, r.reason).toBe('would boot');
    expect(r.dhcp?.interface).toBe(env.pi.ifName);
    expect(r.dhcp?.seen).toHaveLength(1);
    const [offer] = r.dhcp?.seen ?? [];
    expect(offer).toMatchObject({
      server: env.server.address,
      source: env.server.address,
      accepted: true,
      option43Text: 'Raspberry Pi Boot',
      vendorClass: 'PXEClient',
      tftpServer: env.server.address,
      tftpServerFrom: 'option 54',
      used: ['boot', 'address'],
    });
    expect(offer?.yiaddr).toMatch(/^10\.251\.\d+\.1\d\d$/);
    expect(r.tftp).toEqual({ host: env.server.address, port: 69 });
    expect(r.files.map((f) => f.path)).toContain(`${serial}/start4.elf`);
  });

  it('regression: DISCOVER unicast to dnsmasq (doctor --dhcp ADDR) gets the offer (it got none in 5 attempts)', async () => {
    const dnsmasq = await env.startDnsmasq(env.server, { tftpRoot: tree.root });
    const r = await boot({ model: 'pi4', serial, dhcp: { server: env.server.address, ...window } });
    expect(r.verdict, r.reason).toBe('would boot');
    expect(r.dhcp?.offers).toBeGreaterThan(0);
    expect(r.dhcp?.address).toMatch(/^10\.251\.\d+\.1\d\d$/);
    // dnsmasq answered the broadcast flag with a broadcast (it unicasts to the offered address otherwise).
    expect(dnsmasq.output()).toMatch(/DHCPACK\(eth[0-9a-f]+\) 10\.251\.\d+\.1\d\d/);
  });

  it("without the broadcast flag (as the ROM sends) dnsmasq unicasts the offer to the Pi's MAC and offered address, which this host never receives", async () => {
    const dnsmasq = await env.startDnsmasq(env.server, { tftpRoot: tree.root });
    const r = await boot({
      model: 'pi4',
      serial,
      dhcp: { server: '255.255.255.255', interface: env.pi.ifName, ...window, broadcastFlag: false },
    });
    expect(r.dhcp?.offers).toBe(0);
    expect(r.reason).toBe(`no DHCP offer after 2 DHCPDISCOVERs to 255.255.255.255:67 on ${env.pi.ifName}`);
    // dnsmasq did answer: the offer went to an address and MAC that are not this host's.
    expect(dnsmasq.output()).toMatch(/DHCPOFFER\(eth[0-9a-f]+\) 10\.251\.\d+\.1\d\d/);
  });

  it('pi3b: dnsmasq\'s plain "Raspberry Pi Boot" is reported and the reason is the trailing spaces', async () => {
    await env.startDnsmasq(env.server, { tftpRoot: tree.root });
    const r = await boot({
      model: 'pi3b',
      serial: '6b8b4567',
      dhcp: { server: '255.255.255.255', interface: env.pi.ifName, ...window, attempts: 1 },
    });
    expect(r.verdict).toBe('would not boot');
    expect(r.reason).toBe(
      "option 43 has 'Raspberry Pi Boot' but not the trailing-spaces form the Pi 3B ROM needs",
    );
    expect(r.dhcp?.seen?.[0]).toMatchObject({
      server: env.server.address,
      accepted: false,
      option43Text: 'Raspberry Pi Boot',
    });
    expect(r.dhcp?.seen?.[0]?.reason).toContain('three trailing spaces');
  });

  it('two DHCP servers (addresses + a proxyDHCP dnsmasq): the report lists both offers', async () => {
    await env.startDnsmasq(env.server, { tftpRoot: tree.root, pxe: 'Not a Pi menu' });
    await env.startDnsmasq(env.proxy, { tftpRoot: tree.root, proxy: true });
    const r = await boot({
      model: 'pi4',
      serial,
      dhcp: { server: '255.255.255.255', interface: env.pi.ifName, ...window, offerWaitMs: 1500 },
    });
    expect(r.verdict, r.reason).toBe('would boot');
    const seen = r.dhcp?.seen ?? [];
    const byServer = new Map(seen.map((o) => [o.server, o]));
    expect([...byServer.keys()].sort()).toEqual([env.proxy.address, env.server.address].sort());
    // The address server's menu lacks "Raspberry Pi Boot": its offer gives the address, the proxy's the boot.
    expect(byServer.get(env.server.address)).toMatchObject({ accepted: false, used: ['address'] });
    expect(byServer.get(env.proxy.address)).toMatchObject({
      yiaddr: '0.0.0.0',
      accepted: true,
      used: ['boot'],
      tftpServer: env.proxy.address,
    });
    expect(r.tftp?.host).toBe(env.proxy.address);
  });
});
