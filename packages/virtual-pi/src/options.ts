import { Ipv4Schema } from '@bramble/pi';
import type { Logger } from '@bramble/tftp';
import { z } from 'zod';
import { VirtualPiError } from './errors.js';
import type { PiModel } from './models/types.js';

const port = z.number().int().min(1).max(65535);
const ipv4 = Ipv4Schema;

/** Where the virtual Pi sends its DHCP packets. */
export const DhcpTargetSchema = z.object({
  /** Destination of DISCOVER/REQUEST: a server address or '255.255.255.255'. */
  server: ipv4,
  port: port.optional(),
  /** Local port (68 as on a real Pi; needs root). */
  clientPort: z.number().int().min(0).max(65535).optional(),
  /** Local address to bind; default 0.0.0.0 (also receives broadcast replies). */
  localAddress: ipv4.optional(),
  attempts: z.number().int().min(1).max(20).optional(),
  retryIntervalMs: z.number().int().min(50).max(60_000).optional(),
  offerWaitMs: z.number().int().min(0).max(10_000).optional(),
  /**
   * Network-boot restarts after a DHCP sequence without a boot offer (Pi 4/5 only: BOOT_ORDER's
   * RESTART; the Pi 3 ROM halts). Default 0; bounded, like the whole boot by `timeoutMs`.
   */
  restarts: z.number().int().min(0).max(50).optional(),
  /**
   * Interface to broadcast on (as a real Pi has one): its address becomes the send socket's, so Linux routes
   * 255.255.255.255 out of it. Default: none (the routing table decides).
   */
  interface: z.string().min(1).max(15).optional(),
  /**
   * Set the BOOTP broadcast flag (RFC 2131 §4.1) so servers broadcast their replies (default true). The ROM
   * sends none, but it receives frames for its own MAC and offered address; a UDP socket on this host does not.
   */
  broadcastFlag: z.boolean().optional(),
});

export const BootOptionsSchema = z.object({
  /** Checked by modelSpec(), which names the simulated models and says why 3A+ / Zero 2 W are not. */
  model: z.string().min(1).max(32),
  serial: z.string().min(1).max(18),
  mac: z.string().optional(),
  /** false = skip DHCP (like TFTP_IP + static CLIENT_IP in the EEPROM): needs `tftp.host`. */
  dhcp: z.union([DhcpTargetSchema, z.literal(false)]).optional(),
  /** TFTP server: overrides what DHCP says (EEPROM TFTP_IP); `port` also applies to the DHCP-chosen server. */
  tftp: z.object({ host: ipv4.optional(), port: port.optional(), localAddress: ipv4.optional() }).optional(),
  /** Pi 4/5 TFTP_PREFIX: 'serial' (default), 'mac', 'none', or a custom TFTP_PREFIX_STR (e.g. 'tftp_test/'). */
  tftpPrefix: z.string().max(32).optional(),
  /** Whole-boot limit (default 120 s). */
  timeoutMs: z.number().int().min(100).max(3_600_000).optional(),
  /** Per-file TFTP limit, like the EEPROM's TFTP_FILE_TIMEOUT (default: the model's, 30 s). */
  tftpFileTimeoutMs: z.number().int().min(100).max(3_600_000).optional(),
});

export type DhcpTarget = z.infer<typeof DhcpTargetSchema>;

export interface BootOptions {
  model: PiModel;
  /** Board serial, as @bramble/pi normaliseSerial() accepts it (8 hex digits, or the 16-digit cpuinfo Serial). */
  serial: string;
  /** Default: the model's OUI + the serial's low 3 bytes. */
  mac?: string;
  dhcp?: DhcpTarget | false;
  tftp?: { host?: string; port?: number; localAddress?: string };
  tftpPrefix?: 'serial' | 'mac' | 'none' | (string & {});
  timeoutMs?: number;
  /** Per-file TFTP limit, like the EEPROM's TFTP_FILE_TIMEOUT (default: the model's, 30 s). */
  tftpFileTimeoutMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
}

export function parseBootOptions(bootOptions: BootOptions): BootOptions {
  const { signal, logger, ...rest } = bootOptions;
  const r = BootOptionsSchema.safeParse(rest);
  if (!r.success) {
    throw new VirtualPiError('INVALID_OPTIONS', `invalid virtual Pi options: ${z.prettifyError(r.error)}`);
  }
  if (bootOptions.dhcp === false && !bootOptions.tftp?.host) {
    throw new VirtualPiError('INVALID_OPTIONS', 'dhcp: false needs tftp.host (the TFTP server to boot from)');
  }
  if (bootOptions.dhcp === undefined && !bootOptions.tftp?.host) {
    throw new VirtualPiError('INVALID_OPTIONS', 'give dhcp: { server } (or dhcp: false with tftp.host)');
  }
  return bootOptions;
}
