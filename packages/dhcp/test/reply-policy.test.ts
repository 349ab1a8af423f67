/** RFC 2131 §4.1 reply addressing, restricted to the server's subnets and allowed relays. */
import { describe, expect, it } from 'vitest';
import { DhcpError, inSubnet, parseSubnet, type ReplyPolicy, replyTarget } from '../src/index.js';

const policy: ReplyPolicy = {
  localSubnets: [parseSubnet('192.168.1.0/24')],
  allowedRelays: new Set(['10.9.0.1']),
  broadcastAddress: '255.255.255.255',
  clientPort: 68,
  relayPort: 67,
};
const ZERO = '0.0.0.0';
const from = { address: '192.168.1.50', port: 68 };

describe('replyTarget', () => {
  it('sends relayed replies only to relays on the subnet or allowed', () => {
    expect(replyTarget(policy, { giaddr: '192.168.1.1', ciaddr: ZERO }, from, 'dhcp')).toEqual({
      kind: 'relay',
      address: '192.168.1.1',
      port: 67,
    });
    expect(replyTarget(policy, { giaddr: '10.9.0.1', ciaddr: ZERO }, from, 'dhcp')).toMatchObject({
      kind: 'relay',
      address: '10.9.0.1',
    });
    expect(replyTarget(policy, { giaddr: '203.0.113.7', ciaddr: ZERO }, from, 'dhcp')).toEqual({
      kind: 'refused',
      reason: 'relay 203.0.113.7 is not on a local subnet or allowed',
    });
    // A relay named as the broadcast address is not a relay.
    expect(replyTarget(policy, { giaddr: '255.255.255.255', ciaddr: ZERO }, from, 'dhcp').kind).toBe(
      'refused',
    );
  });

  it('unicasts to ciaddr only on the subnet, else broadcasts', () => {
    expect(replyTarget(policy, { giaddr: ZERO, ciaddr: '192.168.1.77' }, from, 'dhcp')).toEqual({
      kind: 'unicast',
      address: '192.168.1.77',
      port: 68,
    });
    expect(replyTarget(policy, { giaddr: ZERO, ciaddr: '198.51.100.9' }, from, 'dhcp')).toEqual({
      kind: 'broadcast',
      address: '255.255.255.255',
      port: 68,
    });
    expect(replyTarget(policy, { giaddr: ZERO, ciaddr: ZERO }, from, 'dhcp').kind).toBe('broadcast');
  });

  it('answers PXE (4011) requests at their source only when it is on the subnet', () => {
    expect(
      replyTarget(
        policy,
        { giaddr: ZERO, ciaddr: '192.168.1.50' },
        { address: '192.168.1.50', port: 4011 },
        'pxe',
      ),
    ).toEqual({ kind: 'unicast', address: '192.168.1.50', port: 4011 });
    expect(
      replyTarget(
        policy,
        { giaddr: ZERO, ciaddr: '192.168.1.50' },
        { address: '198.51.100.9', port: 4011 },
        'pxe',
      ),
    ).toEqual({ kind: 'broadcast', address: '255.255.255.255', port: 4011 });
  });

  it('parses subnets and refuses bad ones with a typed error', () => {
    expect(inSubnet('10.1.2.3', parseSubnet('10.0.0.0/8'))).toBe(true);
    expect(inSubnet('11.1.2.3', parseSubnet('10.0.0.0/8'))).toBe(false);
    expect(inSubnet('0.0.0.1', parseSubnet('0.0.0.0/0'))).toBe(true);
    expect(parseSubnet('192.168.1.77/24')).toEqual(parseSubnet('192.168.1.0/24'));
    for (const bad of ['192.168.1.0/33', 'x/24', '192.168.1.0/', '10.0.0.0/2a'])
      expect(() => parseSubnet(bad)).toThrow(DhcpError);
  });
});
