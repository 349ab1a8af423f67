import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type BootNetwork,
  DhcpConfigError,
  dnsmasqConfig,
  iscDhcpdConfig,
  keaConfig,
  raspberryPiBootTexts,
  raspberryPiOption43,
} from '../src/index.js';

const dnsmasq = requireTool('dnsmasq');
const dhcpd = requireTool('dhcpd');
const kea = requireTool('kea-dhcp4');
const dir = mkdtempSync(join(tmpdir(), 'bramble-dhcp-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const full: BootNetwork = {
  serverAddress: '10.42.0.1',
  interface: 'eth0',
  mode: 'full',
  subnet: {
    network: '10.42.0.0',
    netmask: '255.255.255.0',
    rangeStart: '10.42.0.100',
    rangeEnd: '10.42.0.200',
    router: '10.42.0.254',
    dnsServers: ['10.42.0.53'],
  },
  nodes: [
    { mac: 'DC:A6:32:01:36:C2', address: '10.42.0.21', hostname: 'node1' },
    { mac: 'b8-27-eb-00-00-01', address: '10.42.0.22' },
  ],
};
const proxy: BootNetwork = { ...full, mode: 'proxy', trailingSpaces: true, onlyKnownNodes: true };

async function check(cmd: string, args: string[]) {
  const r = await execa(cmd, args, { reject: false, timeout: 30_000, all: true });
  return { ok: r.exitCode === 0, out: r.all ?? '' };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('dnsmasq config', () => {
  it('passes dnsmasq --test in full and proxy mode', async () => {
    for (const [name, net] of [
      ['full', full],
      ['proxy', proxy],
    ] as const) {
      const text = dnsmasqConfig(net);
      const r = await check(dnsmasq, ['--test', '-C', file(`dnsmasq-${name}.conf`, text)]);
      expect(r.ok, r.out).toBe(true);
    }
    const f = dnsmasqConfig(full);
    expect(f).toContain('dhcp-range=10.42.0.100,10.42.0.200,255.255.255.0,43200');
    expect(f).toContain('dhcp-host=dc:a6:32:01:36:c2,set:bramble_node,10.42.0.21,node1');
    expect(f).toContain('pxe-service=0,"Raspberry Pi Boot"\n');
    expect(f).not.toContain('66,');
    const other = dnsmasqConfig({ ...full, tftpServer: '10.42.0.7' });
    expect(other).toContain('dhcp-option-force=66,"10.42.0.7"');
    expect((await check(dnsmasq, ['--test', '-C', file('dnsmasq-tftp.conf', other)])).ok).toBe(true);
    const p = dnsmasqConfig(proxy);
    expect(p).toContain('dhcp-range=10.42.0.0,proxy,255.255.255.0');
    expect(p).toContain('pxe-service=tag:bramble_node,0,"Raspberry Pi Boot   "');
    expect(p).not.toContain('10.42.0.21'); // no fixed addresses in proxy mode
  });

  it('the oracle rejects a broken config (so the check above can fail)', async () => {
    const r = await check(dnsmasq, [
      '--test',
      '-C',
      file('broken.conf', `${dnsmasqConfig(full)}dhcp-range=nonsense\n`),
    ]);
    expect(r.ok).toBe(false);
  });
});

describe('ISC dhcpd config', () => {
  it('passes dhcpd -t and carries the exact option 43 bytes', async () => {
    const text = iscDhcpdConfig(full);
    const r = await check(dhcpd, ['-t', '-cf', file('dhcpd.conf', text)]);
    expect(r.ok, r.out).toBe(true);
    const hex = [...raspberryPiOption43()].map((b) => b.toString(16).padStart(2, '0')).join(':');
    expect(text).toContain(`option vendor-encapsulated-options ${hex};`);
    expect(text).toContain('fixed-address 10.42.0.21;');
    const bad = await check(dhcpd, [
      '-t',
      '-cf',
      file('dhcpd-bad.conf', text.replace('fixed-address 10.42.0.21;', 'fixed-address 10.42.0.300;')),
    ]);
    expect(bad.ok).toBe(false);
  });

  it('refuses proxy mode with a typed error', () => {
    expect(() => iscDhcpdConfig(proxy)).toThrow(DhcpConfigError);
  });
});

describe('Kea DHCPv4 config', () => {
  it('passes kea-dhcp4 -t and carries the exact option 43 bytes', async () => {
    const cfg = keaConfig(full) as {
      Dhcp4: { 'client-classes': Array<{ 'option-data': Array<{ code?: number; data: string }> }> };
    };
    const text = JSON.stringify(cfg, null, 2);
    const r = await check(kea, ['-t', file('kea.json', text)]);
    expect(r.ok, r.out).toBe(true);
    const o43 = cfg.Dhcp4['client-classes'][0]?.['option-data'].find((o) => o.code === 43);
    expect(Buffer.from(o43?.data ?? '', 'hex')).toEqual(raspberryPiOption43());
    const bad = await check(kea, [
      '-t',
      file('kea-bad.json', text.replace('"subnet": "10.42.0.0/24"', '"subnet": "10.42.0.0/33"')),
    ]);
    expect(bad.ok).toBe(false);
  });

  it('refuses proxy mode with a typed error', () => {
    expect(() => keaConfig(proxy)).toThrow(DhcpConfigError);
  });
});

describe('option 43 from the @bramble/pi model table', () => {
  const withPi3b: BootNetwork = {
    ...full,
    nodes: [
      ...(full.nodes ?? []),
      { hostname: 'old3b', model: 'pi3b' },
      { model: 'pi4', mac: 'dc:a6:32:0f:0f:0f' },
    ],
  };

  it('a pi3b node gets the trailing-space form in dnsmasq, ISC and Kea; other models the plain one', async () => {
    const padded = raspberryPiOption43(true);
    expect(dnsmasqConfig(withPi3b)).toContain('pxe-service=0,"Raspberry Pi Boot   "');
    const isc = iscDhcpdConfig(withPi3b);
    expect(isc).toContain([...padded].map((b) => b.toString(16).padStart(2, '0')).join(':'));
    expect((await check(dhcpd, ['-t', '-cf', file('dhcpd-pi3b.conf', isc)])).ok).toBe(true);
    const kea3b = keaConfig(withPi3b) as {
      Dhcp4: { 'client-classes': Array<{ 'option-data': Array<{ code?: number; data: string }> }> };
    };
    const o43 = kea3b.Dhcp4['client-classes'][0]?.['option-data'].find((o) => o.code === 43);
    expect(Buffer.from(o43?.data ?? '', 'hex')).toEqual(padded);
    // A node without a MAC counts for the model but writes no host line.
    expect(dnsmasqConfig(withPi3b)).not.toContain('old3b');
    const plain: BootNetwork = { ...full, nodes: [{ mac: 'dc:a6:32:0f:0f:0f', model: 'pi4' }] };
    expect(dnsmasqConfig(plain)).toContain('pxe-service=0,"Raspberry Pi Boot"\n');
    // Read back from each format (what bramble doctor checks).
    expect(raspberryPiBootTexts(dnsmasqConfig(withPi3b))).toEqual(['Raspberry Pi Boot   ']);
    expect(raspberryPiBootTexts(isc)).toEqual(['Raspberry Pi Boot   ']);
    expect(raspberryPiBootTexts(JSON.stringify(kea3b, null, 2))).toEqual(['Raspberry Pi Boot   ']);
    expect(raspberryPiBootTexts(iscDhcpdConfig(full))).toEqual(['Raspberry Pi Boot']);
    expect(raspberryPiBootTexts('dhcp-range=10.0.0.1,proxy\n"data": "zz"\n')).toEqual([]);
    // An explicit setting wins over the table.
    expect(dnsmasqConfig({ ...withPi3b, trailingSpaces: false })).toContain('"Raspberry Pi Boot"\n');
  });
});

describe('BootNetwork validation', () => {
  it('lists problems with a typed CONFIG error', () => {
    const bad: BootNetwork = {
      ...full,
      serverAddress: '192.168.9.9',
      interface: 'eth0; rm -rf /',
      nodes: [{ mac: 'not-a-mac' }],
    };
    try {
      dnsmasqConfig(bad);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DhcpConfigError);
      expect((e as DhcpConfigError).code).toBe('CONFIG');
      expect((e as Error).message).toMatch(/serverAddress/);
      expect((e as Error).message).toMatch(/interface/);
      expect((e as Error).message).toMatch(/mac/i);
    }
    expect(() =>
      dnsmasqConfig({ ...full, subnet: { network: '10.42.0.0', netmask: '255.255.255.0' }, nodes: [] }),
    ).toThrow(/full mode needs/);
  });
});
