import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { VirtualPiError } from './errors.js';

/** The interface a virtual Pi broadcasts on, and its IPv4 address (if it has one). */
export interface PiInterface {
  name: string;
  /** First IPv4 address of the interface; undefined when it has none (then only 0.0.0.0 is bound). */
  address?: string;
}

/** Names of interfaces with an IPv4 default route (/proc/net/route: destination 00000000, mask 00000000). */
export function defaultRouteInterfaces(routeTable?: string): string[] {
  let text = routeTable;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/net/route', 'latin1');
    } catch {
      return [];
    }
  }
  const names = new Set<string>();
  for (const line of text.split('\n').slice(1)) {
    const [name, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (name && destination === '00000000' && mask === '00000000') names.add(name);
  }
  return [...names];
}

type InterfaceTable = ReturnType<typeof networkInterfaces>;

function ipv4Of(table: InterfaceTable, name: string): string | undefined {
  return table[name]?.find((a) => a.family === 'IPv4')?.address;
}

/**
 * The interface a virtual Pi uses: the one named, else the one interface with an IPv4 default route, else the
 * only non-loopback interface. Throws NO_INTERFACE, naming the candidates, when it cannot choose.
 */
export function chooseInterface(
  name?: string,
  sources: { table?: InterfaceTable; routeTable?: string } = {},
): PiInterface {
  const table = sources.table ?? networkInterfaces();
  const all = Object.keys(table);
  if (name !== undefined) {
    if (!all.includes(name)) {
      throw new VirtualPiError(
        'NO_INTERFACE',
        `no network interface '${name}' (have: ${all.join(', ') || 'none'})`,
      );
    }
    return withAddress(table, name);
  }
  const routed = defaultRouteInterfaces(sources.routeTable).filter((n) => all.includes(n));
  if (routed.length === 1 && routed[0]) return withAddress(table, routed[0]);
  const candidates = all.filter((n) => !table[n]?.every((a) => a.internal));
  if (routed.length > 1) {
    throw new VirtualPiError(
      'NO_INTERFACE',
      `several interfaces have an IPv4 default route (${routed.join(', ')}): pick one with --interface`,
    );
  }
  if (candidates.length === 1 && candidates[0]) return withAddress(table, candidates[0]);
  throw new VirtualPiError(
    'NO_INTERFACE',
    candidates.length === 0
      ? 'no network interface besides loopback: nothing to broadcast a DHCPDISCOVER on'
      : `cannot choose among ${candidates.join(', ')} (none has the one IPv4 default route): pick one with --interface`,
  );
}

function withAddress(table: InterfaceTable, name: string): PiInterface {
  const address = ipv4Of(table, name);
  return address ? { name, address } : { name };
}
