/** One typed description of a boot network, from which every DHCP server config is generated. */
import {
  Ipv4Schema,
  ipv4InSubnet,
  ipv4ToNumber,
  MacSchema,
  netmaskToPrefix,
  option43Text,
  PI_BOOT_MENU_TEXT_PADDED,
  PI_MODELS,
} from '@bramble/pi';
import { z } from 'zod';
import { DhcpConfigError } from '../errors.js';

const hostname = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, 'expected an RFC 1123 host label');

export const BootNodeSchema = z.object({
  /** The node's MAC: host lines and reservations need one; a node without it still counts for `model`. */
  mac: MacSchema.optional(),
  /** Fixed address (full mode). */
  address: Ipv4Schema.optional(),
  hostname: hostname.optional(),
  /** The Pi model (@bramble/pi table): decides the option 43 form when `trailingSpaces` is 'auto'. */
  model: z.enum(PI_MODELS).optional(),
});

export const BootNetworkSchema = z
  .object({
    /** This host's address on the boot network (TFTP server, proxyDHCP server id). */
    serverAddress: Ipv4Schema,
    /** Interface the DHCP server serves (e.g. eth0); omitted = all. */
    interface: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,15}$/, 'expected an interface name like eth0')
      .optional(),
    /** proxy: addresses come from another DHCP server, only boot options are added; full: serve addresses too. */
    mode: z.enum(['proxy', 'full']).default('proxy'),
    subnet: z.object({
      network: Ipv4Schema,
      netmask: Ipv4Schema,
      /** Dynamic pool (full mode). */
      rangeStart: Ipv4Schema.optional(),
      rangeEnd: Ipv4Schema.optional(),
      router: Ipv4Schema.optional(),
      dnsServers: z.array(Ipv4Schema).default([]),
      leaseSeconds: z.number().int().min(120).max(31_536_000).default(43_200),
    }),
    nodes: z.array(BootNodeSchema).default([]),
    /** TFTP server to announce (option 66, siaddr); default serverAddress. */
    tftpServer: Ipv4Schema.optional(),
    /**
     * "Raspberry Pi Boot   " (Pi 3B ROM bug) instead of "Raspberry Pi Boot": 'auto' (default) asks the
     * @bramble/pi model table about the nodes' models (any `pi3b` → the padded form).
     */
    trailingSpaces: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    /** Send boot options only to listed nodes (by MAC) instead of every Pi / PXE client. */
    onlyKnownNodes: z.boolean().default(false),
  })
  .superRefine((d, ctx) => {
    try {
      netmaskToPrefix(d.subnet.netmask);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['subnet', 'netmask'], message: 'netmask must be contiguous' });
    }
    const inside = (a: string) => ipv4InSubnet(a, d.subnet.network, d.subnet.netmask);
    if (!inside(d.serverAddress)) {
      ctx.addIssue({
        code: 'custom',
        path: ['serverAddress'],
        message: 'serverAddress is outside the subnet',
      });
    }
    for (const [i, n] of d.nodes.entries()) {
      if (n.address && !inside(n.address)) {
        ctx.addIssue({
          code: 'custom',
          path: ['nodes', i, 'address'],
          message: 'address is outside the subnet',
        });
      }
    }
    const { rangeStart, rangeEnd } = d.subnet;
    if ((rangeStart === undefined) !== (rangeEnd === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['subnet'], message: 'give both rangeStart and rangeEnd' });
    }
    if (rangeStart && rangeEnd) {
      if (!inside(rangeStart) || !inside(rangeEnd) || ipv4ToNumber(rangeStart) > ipv4ToNumber(rangeEnd)) {
        ctx.addIssue({
          code: 'custom',
          path: ['subnet'],
          message: 'range must lie inside the subnet, start ≤ end',
        });
      }
    }
    if (d.mode === 'full' && !rangeStart && !d.nodes.some((n) => n.address)) {
      ctx.addIssue({
        code: 'custom',
        path: ['subnet'],
        message: 'full mode needs a range or nodes with addresses',
      });
    }
  });

export type BootNetwork = z.input<typeof BootNetworkSchema>;
export type ResolvedBootNetwork = z.output<typeof BootNetworkSchema>;

/** Validate a description; throws {@link DhcpConfigError} (code `CONFIG`) listing every problem. */
export function parseBootNetwork(d: BootNetwork): ResolvedBootNetwork {
  const r = BootNetworkSchema.safeParse(d);
  if (!r.success) throw new DhcpConfigError('CONFIG', `invalid boot network: ${z.prettifyError(r.error)}`);
  return r.data;
}

export function prefixLength(netmask: string): number {
  return netmaskToPrefix(netmask);
}

/** Whether option 43 gets the Pi 3B's three trailing spaces on this network (the model table decides 'auto'). */
export function usesTrailingSpaces(d: ResolvedBootNetwork): boolean {
  if (d.trailingSpaces !== 'auto') return d.trailingSpaces;
  return option43Text(d.nodes.map((n) => n.model)) === PI_BOOT_MENU_TEXT_PADDED;
}

/** The nodes that have a MAC (host lines, reservations, known-node matches). */
export function nodesWithMac(
  d: ResolvedBootNetwork,
): (ResolvedBootNetwork['nodes'][number] & { mac: string })[] {
  return d.nodes.filter(
    (n): n is ResolvedBootNetwork['nodes'][number] & { mac: string } => n.mac !== undefined,
  );
}
