import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { createNetNs, type NetNs } from './netns.js';

/** One host on a {@link Lan}: its namespace, interface, address and MAC. */
export interface LanHost {
  readonly name: string;
  readonly ns: NetNs;
  readonly ifName: string;
  readonly address: string;
  readonly mac: string;
  /** Change the interface's MAC (e.g. to impersonate a Raspberry Pi). */
  setMac(mac: string): Promise<void>;
}

/** Several namespaces on one Ethernet segment: a bridge in a hub namespace, one veth per host. */
export interface Lan {
  readonly hub: NetNs;
  readonly hosts: Record<string, LanHost>;
  readonly subnet: string;
  destroy(): Promise<void>;
}

async function ip(args: readonly string[]): Promise<string> {
  return (await execa('ip', args, { timeout: 20_000 })).stdout;
}

/**
 * Hosts `names[i]` get 10.251.<subnet>.<i + 1>/24 and a default route on their interface (so limited
 * broadcasts leave through it). Everything lives in namespaces created here; `destroy()` removes them.
 */
export async function createLan(
  tag: string,
  names: readonly string[],
  subnet = Math.floor(Math.random() * 250) + 1,
): Promise<Lan> {
  const made: NetNs[] = [];
  try {
    const hub = await createNetNs(`${tag}h`);
    made.push(hub);
    await ip([
      '-n',
      hub.name,
      'link',
      'add',
      'br0',
      'type',
      'bridge',
      'stp_state',
      '0',
      'forward_delay',
      '0',
    ]);
    await ip(['-n', hub.name, 'link', 'set', 'br0', 'up']);
    const hosts: Record<string, LanHost> = {};
    for (const [i, name] of names.entries()) {
      const ns = await createNetNs(`${tag}${i}`);
      made.push(ns);
      const suffix = randomBytes(3).toString('hex');
      const ifName = `eth${suffix}`;
      const hubIf = `hub${suffix}`;
      await ip([
        'link',
        'add',
        ifName,
        'netns',
        ns.name,
        'type',
        'veth',
        'peer',
        'name',
        hubIf,
        'netns',
        hub.name,
      ]);
      await ip(['-n', hub.name, 'link', 'set', hubIf, 'master', 'br0']);
      await ip(['-n', hub.name, 'link', 'set', hubIf, 'up']);
      const address = `10.251.${subnet}.${i + 1}`;
      await ip(['-n', ns.name, 'addr', 'add', `${address}/24`, 'dev', ifName]);
      await ip(['-n', ns.name, 'link', 'set', ifName, 'up']);
      await ip(['-n', ns.name, 'route', 'add', 'default', 'dev', ifName]);
      const link = JSON.parse(await ip(['-j', '-n', ns.name, 'link', 'show', ifName])) as Array<{
        address: string;
      }>;
      const host: LanHost = {
        name,
        ns,
        ifName,
        address,
        mac: link[0]?.address ?? '',
        setMac: async (mac) => {
          await ip(['-n', ns.name, 'link', 'set', ifName, 'address', mac]);
        },
      };
      hosts[name] = host;
    }
    return {
      hub,
      hosts,
      subnet: `10.251.${subnet}.0`,
      destroy: async () => {
        for (const ns of made.reverse()) await ns.destroy();
      },
    };
  } catch (e) {
    for (const ns of made.reverse()) await ns.destroy();
    throw e;
  }
}
