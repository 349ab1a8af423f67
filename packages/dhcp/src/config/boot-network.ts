/** One typed description of a boot network, from which every DHCP server config is generated. */
import { z } from 'zod';
import { DhcpConfigError } from '../errors.js';
import { ipv4ToNumber } from '../ipv4.js';

const mac = z
  .string()
  .regex(/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/, 'expected a MAC address like dc:a6:32:01:36:c2')
  .transform((s) => s.toLowerCase().replaceAll('-', ':'));
const hostname = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, 'expected an RFC 1123 host label');

export const BootNodeSchema = z.object({
  mac,
  /** Fixed address (full mode). */
  address: z.ipv4().optional(),
  hostname: hostname.optional(),
});

export const BootNetworkSchema = z
  .object({
    /** This host's address on the boot network (TFTP server, proxyDHCP server id). */
    serverAddress: z.ipv4(),
    /** Interface the DHCP server serves (e.g. eth0); omitted = all. */
    interface: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,15}$/, 'expected an interface name like eth0')
      .optional(),
    /** proxy: addresses come from another DHCP server, only boot options are added; full: serve addresses too. */
    mode: z.enum(['proxy', 'full']).default('proxy'),
    subnet: z.object({
      network: z.ipv4(),
      netmask: z.ipv4(),
      /** Dynamic pool (full mode). */
      rangeStart: z.ipv4().optional(),
      rangeEnd: z.ipv4().optional(),
      router: z.ipv4().optional(),
      dnsServers: z.array(z.ipv4()).default([]),
      leaseSeconds: z.number().int().min(120).max(31_536_000).default(43_200),
    }),
    nodes: z.array(BootNodeSchema).default([]),
    /** TFTP server to announce (option 66, siaddr); default serverAddress. */
    tftpServer: z.ipv4().optional(),
    /** "Raspberry Pi Boot   " (Pi 3B ROM bug) instead of "Raspberry Pi Boot". */
    trailingSpaces: z.boolean().default(false),
    /** Send boot options only to listed nodes (by MAC) instead of every Pi / PXE client. */
    onlyKnownNodes: z.boolean().default(false),
  })
  .superRefine((d, ctx) => {
    const net = ipv4ToNumber(d.subnet.network);
    const mask = ipv4ToNumber(d.subnet.netmask);
    const inside = (a: string) => (ipv4ToNumber(a) & mask) >>> 0 === (net & mask) >>> 0;
    if (!/^1*0*$/.test(mask.toString(2).padStart(32, '0'))) {
      ctx.addIssue({ code: 'custom', path: ['subnet', 'netmask'], message: 'netmask must be contiguous' });
    }
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
  return ipv4ToNumber(netmask).toString(2).replaceAll('0', '').length;
}
