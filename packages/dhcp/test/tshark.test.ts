import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildClientMessage,
  type DhcpMessage,
  encodeMessage,
  macOf,
  Options,
  raspberryPiBootOptions,
  setOption,
} from '../src/index.js';
import { arbMessage } from './helpers/arbitraries.js';
import { writePcap } from './helpers/pcap.js';

const tshark = requireTool('tshark');
const dir = mkdtempSync(join(tmpdir(), 'bramble-dhcp-tshark-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIELDS = [
  'dhcp.type',
  'dhcp.id',
  'dhcp.flags',
  'dhcp.ip.client',
  'dhcp.ip.your',
  'dhcp.ip.server',
  'dhcp.ip.relay',
  'dhcp.hw.mac_addr',
  'dhcp.option.type',
  'dhcp.option.dhcp_server_id',
  'dhcp.option.vendor_class_id',
  'dhcp.option.tftp_server_name',
  'dhcp.option.vendor.pxeclient.suboption',
  'dhcp.option.vendor.pxeclient.discovery_control',
  'dhcp.option.vendor.pxeclient.menu_prompt.prompt',
  'dhcp.option.vendor.pxeclient.boot_menu.desc',
  'dhcp.option.request_list_item',
  'dhcp.option.subnet_mask',
  'dhcp.option.router',
  'dhcp.option.hostname',
  'dhcp.option.ip_address_lease_time',
  'dhcp.option.value',
  'dhcp.option.end',
  'dhcp.option.vendor.pxeclient.end',
];

/** Option codes tshark saw, END checked separately (tshark lists END's type as 0 and its value under dhcp.option.end). */
function optionCodes(row: Record<string, string>): string {
  expect(row['dhcp.option.end']).toBe('255');
  return (row['dhcp.option.type'] ?? '').split(',').slice(0, -1).join(',');
}

/** Dissect packets with tshark; one record (field → comma-joined values) per packet. */
async function dissect(packets: Buffer[], name: string): Promise<Array<Record<string, string>>> {
  const file = join(dir, `${name}.pcap`);
  writePcap(
    file,
    packets.map((payload) => ({ payload })),
  );
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of FIELDS) args.push('-e', f);
  const { stdout } = await execa(tshark, args, { timeout: 60_000, env: { ...process.env, HOME: dir } });
  return stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => Object.fromEntries(line.split('\t').map((v, i) => [FIELDS[i] as string, v])));
}

const hex32 = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const hex16 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

function expectHeader(row: Record<string, string>, m: DhcpMessage) {
  expect(row['dhcp.type']).toBe(String(m.op));
  expect(row['dhcp.id']).toBe(hex32(m.xid));
  expect(row['dhcp.flags']).toBe(hex16(m.flags));
  expect(row['dhcp.ip.client']).toBe(m.ciaddr);
  expect(row['dhcp.ip.your']).toBe(m.yiaddr);
  expect(row['dhcp.ip.server']).toBe(m.siaddr);
  expect(row['dhcp.ip.relay']).toBe(m.giaddr);
}

describe('tshark agrees with the encoder', () => {
  it('dissects a Pi boot reply with the same PXE option 43 and option values', async () => {
    const req = buildClientMessage({
      kind: 'pi4',
      type: 'discover',
      mac: 'dc:a6:32:01:36:c2',
      serial: '0660cd37',
    });
    const reply = { ...req, op: 2 as const, options: new Map<number, Buffer>([[53, Buffer.from([2])]]) };
    const boot = raspberryPiBootOptions({ serverAddress: '10.42.0.1' });
    for (const [k, v] of boot.options) reply.options.set(k, v);
    reply.siaddr = boot.siaddr;
    setOption(reply, Options.subnetMask, '255.255.255.0');
    setOption(reply, Options.router, ['10.42.0.254']);
    setOption(reply, Options.hostName, 'node-1');
    setOption(reply, Options.leaseTime, 3600);
    const [row] = await dissect([encodeMessage(reply)], 'pi-reply');
    if (!row) throw new Error('tshark returned no packet');
    expectHeader(row, reply);
    expect(row['dhcp.hw.mac_addr']).toBe(macOf(reply));
    expect(optionCodes(row)).toBe('53,54,60,66,43,1,3,12,51');
    expect(row['dhcp.option.dhcp_server_id']).toBe('10.42.0.1');
    expect(row['dhcp.option.vendor_class_id']).toBe('PXEClient');
    expect(row['dhcp.option.tftp_server_name']).toBe('10.42.0.1');
    expect(row['dhcp.option.vendor.pxeclient.suboption']).toBe('6,10,9');
    expect(row['dhcp.option.vendor.pxeclient.end']).toBe('255');
    expect(row['dhcp.option.vendor.pxeclient.discovery_control']).toBe('0x03');
    expect(row['dhcp.option.vendor.pxeclient.menu_prompt.prompt']).toBe('PXE');
    expect(row['dhcp.option.vendor.pxeclient.boot_menu.desc']).toBe('Raspberry Pi Boot');
    expect(row['dhcp.option.subnet_mask']).toBe('255.255.255.0');
    expect(row['dhcp.option.router']).toBe('10.42.0.254');
    expect(row['dhcp.option.hostname']).toBe('node-1');
    expect(row['dhcp.option.ip_address_lease_time']).toBe('3600');
  });

  it('dissects the scripted client requests with the same parameter lists', async () => {
    const msgs = (['pi3b', 'pi3b+', 'pi4', 'pi5', 'pxe-pc'] as const).map((kind) =>
      buildClientMessage({ kind, type: 'discover', mac: 'b8:27:eb:00:00:01', serial: '12345678' }),
    );
    const rows = await dissect(
      msgs.map((m) => encodeMessage(m)),
      'clients',
    );
    expect(rows).toHaveLength(msgs.length);
    rows.forEach((row, i) => {
      const m = msgs[i] as DhcpMessage;
      expectHeader(row, m);
      expect(row['dhcp.option.request_list_item']).toBe([...(m.options.get(55) ?? [])].join(','));
      expect(row['dhcp.option.vendor_class_id']).toBe(m.options.get(60)?.toString('latin1'));
      expect(optionCodes(row)).toBe([...m.options.keys()].join(','));
    });
  });

  it('dissects random messages with the same header fields and option codes', async () => {
    const msgs = fc.sample(arbMessage, { numRuns: 60, seed: 42 }).map((m) => {
      m.hlen = 6;
      m.htype = 1;
      // Keep options tshark does not reinterpret by code (private-use range 224-254) so codes compare 1:1.
      m.options = new Map([...m.options].map(([, v], i) => [224 + (i % 30), v.subarray(0, 255)] as const));
      m.sname = '';
      m.file = '';
      return m;
    });
    const rows = await dissect(
      msgs.map((m) => encodeMessage(m)),
      'random',
    );
    expect(rows).toHaveLength(msgs.length);
    rows.forEach((row, i) => {
      const m = msgs[i] as DhcpMessage;
      expectHeader(row, m);
      expect(optionCodes(row)).toBe([...m.options.keys()].join(','));
      const values = [...m.options.values()].map((v) => (v.length === 0 ? '<MISSING>' : v.toString('hex')));
      expect(row['dhcp.option.value']?.split(',').slice(0, values.length)).toEqual(values);
    });
  });
});
