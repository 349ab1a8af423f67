import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import {
  createVethPair,
  guideDnsmasqLines,
  type Peer,
  requireTool,
  startDnsmasq,
  type VethLink,
} from '@bramble/testkit';
import type { BootReport, StormReport } from '../../src/index.js';
import { bootInNamespace, stormInNamespace } from './ns-boot.js';

const run = promisify(execFile);

/**
 * Two namespaces joined by a veth pair: dnsmasq (DHCP + TFTP) in `server`, virtual Pis in `pi`.
 * dnsmasq is configured as the official Raspberry Pi network-boot guide does, plus `dhcp-broadcast` so a
 * client without an address receives its replies.
 */
export interface NetbootLab {
  link: VethLink;
  serverAddress: string;
  dnsmasq?: Peer;
  startDnsmasq(o: {
    tftpRoot: string;
    pxe?: string | false;
    proxy?: boolean;
    extra?: string[];
    /** A generated config (e.g. @bramble/dhcp dnsmasqConfig) used instead of the guide's DHCP lines. */
    config?: string;
  }): Promise<Peer>;
  stopDnsmasq(): Promise<void>;
  /** Boot in the `pi` namespace (real ports 67/68, broadcast). */
  boot(o: Record<string, unknown>, timeoutMs?: number): Promise<BootReport>;
  storm(o: Record<string, unknown>, timeoutMs?: number): Promise<StormReport>;
  destroy(): Promise<void>;
}

export async function createNetbootLab(tag: string): Promise<NetbootLab> {
  requireTool('dnsmasq');
  requireTool('ip');
  const link = await createVethPair(tag);
  // The Pi namespace needs a route for 255.255.255.255 (limited broadcast leaves via the veth).
  await run('ip', ['-n', link.b.name, 'route', 'add', 'default', 'dev', link.ifB], { timeout: 10_000 });
  let leases: string | undefined;
  let conf: string | undefined;
  const subnet = link.addrA.split('.').slice(0, 3).join('.');
  const lab: NetbootLab = {
    link,
    serverAddress: link.addrA,
    async startDnsmasq(o) {
      await lab.stopDnsmasq();
      leases = `${o.tftpRoot}.leases`;
      conf = `${o.tftpRoot}.dnsmasq.conf`;
      const base =
        o.config === undefined
          ? guideDnsmasqLines({ ifName: link.ifA, subnet, proxy: o.proxy, pxe: o.pxe })
          : o.config.trimEnd().split('\n');
      const peer = await startDnsmasq(link.a, {
        conf,
        leaseFile: leases,
        tftpRoot: o.tftpRoot,
        lines: [...base, 'dhcp-broadcast', ...(o.extra ?? [])],
      });
      lab.dnsmasq = peer;
      return peer;
    },
    async stopDnsmasq() {
      await lab.dnsmasq?.stop();
      delete lab.dnsmasq;
      for (const f of [leases, conf]) if (f) await rm(f, { force: true });
    },
    boot: (o, timeoutMs) => bootInNamespace(link.b, o, timeoutMs),
    storm: (o, timeoutMs) => stormInNamespace(link.b, o, timeoutMs),
    async destroy() {
      await lab.stopDnsmasq();
      await link.destroy();
    },
  };
  return lab;
}
