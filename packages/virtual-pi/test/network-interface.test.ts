import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { chooseInterface, defaultRouteInterfaces, VirtualPiError } from '../src/index.js';

function v4(address: string, internal = false): NetworkInterfaceInfo {
  return {
    address,
    netmask: '255.255.255.0',
    family: 'IPv4',
    mac: '00:00:00:00:00:00',
    internal,
    cidr: `${address}/24`,
  };
}

const ROUTE_HEADER = 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
const route = (...lines: string[]) => [ROUTE_HEADER, ...lines, ''].join('\n');
const DEFAULT_VIA = (iface: string) => `${iface}\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0`;
const SUBNET = (iface: string) => `${iface}\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0`;

describe('chooseInterface', () => {
  const table = { lo: [v4('127.0.0.1', true)], eth0: [v4('10.0.0.5')], wlan0: [v4('192.168.1.9')] };

  it('reads default routes from /proc/net/route text', () => {
    expect(defaultRouteInterfaces(route(SUBNET('eth0'), DEFAULT_VIA('wlan0')))).toEqual(['wlan0']);
  });

  it('takes the named interface, with its IPv4 address', () => {
    expect(chooseInterface('eth0', { table, routeTable: route() })).toEqual({
      name: 'eth0',
      address: '10.0.0.5',
    });
  });

  it('takes the one interface with the default route among several', () => {
    expect(chooseInterface(undefined, { table, routeTable: route(DEFAULT_VIA('wlan0')) }).name).toBe('wlan0');
  });

  it('takes the only non-loopback interface when there is no default route', () => {
    const one = { lo: table.lo, eth0: table.eth0 };
    expect(chooseInterface(undefined, { table: one, routeTable: route() }).name).toBe('eth0');
  });

  it('says why it cannot choose: several candidates, several default routes, none, an unknown name', () => {
    const cases: Array<[string | undefined, string, string]> = [
      [undefined, route(), 'cannot choose among eth0, wlan0'],
      [
        undefined,
        route(DEFAULT_VIA('eth0'), DEFAULT_VIA('wlan0')),
        'several interfaces have an IPv4 default route',
      ],
      ['eth9', route(), "no network interface 'eth9' (have: lo, eth0, wlan0)"],
    ];
    for (const [name, routes, message] of cases) {
      const run = () => chooseInterface(name, { table, routeTable: routes });
      expect(run).toThrow(VirtualPiError);
      expect(run).toThrow(message);
    }
    expect(() => chooseInterface(undefined, { table: { lo: table.lo }, routeTable: route() })).toThrow(
      'no network interface besides loopback',
    );
  });
});
