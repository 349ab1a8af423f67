import { existsSync } from 'node:fs';
import type { PiModelName } from '@bramble/pi';
import type { Command } from 'commander';
import { type GlobalOptions, outputFor } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { loadVirtualPi, type PiModel } from '../packages.js';

/** Serial of the virtual Pi when neither --serial nor a manifest names one (its TFTP prefix is '1a2b3c4d/'). */
export const DISCOVER_DEFAULT_SERIAL = '1a2b3c4d';
/** Limited broadcast (RFC 919 §7), where a Pi sends DHCPDISCOVER. */
const BROADCAST = '255.255.255.255';

export interface DiscoverFlags {
  simulate?: boolean;
  model?: PiModelName;
  serial?: string;
  server?: string;
  dhcp?: string;
  interface?: string;
  timeout: number;
}

/**
 * `doctor --simulate` boots like a Pi that knows no server when no manifest exists (or --interface is given):
 * it broadcasts DHCPDISCOVER on the interface and follows the offers, so an existing DHCP setup can be checked
 * before Bramble manages anything.
 */
export function wantsDiscover(flags: DiscoverFlags, g: GlobalOptions): boolean {
  return flags.simulate === true && (flags.interface !== undefined || !existsSync(g.config));
}

/** Add --interface to `doctor` (kept here so the discovery mode stays in one module). */
export function addDiscoverOptions(command: Command): Command {
  return command.option(
    '--interface <iface>',
    'with --simulate: broadcast DHCPDISCOVER on this interface (default: the one with the IPv4 default route, or the only non-loopback one)',
  );
}

function parseServer(server: string): { host: string; port: number } {
  const [host, portText] = server.split(':');
  const port = portText === undefined ? 69 : Number(portText);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`--server: expected ADDR or ADDR:PORT, got '${server}'`);
  }
  return { host, port };
}

/**
 * Boot a virtual Pi as a real one does: DISCOVER from 0.0.0.0:68 to 255.255.255.255:67 on the interface (or to
 * --dhcp ADDR), report every offer seen, then TFTP from the offer that model's firmware follows (or --server).
 */
export async function runDiscover(flags: DiscoverFlags, g: GlobalOptions): Promise<void> {
  const out = outputFor(g);
  const vp = await loadVirtualPi();
  let nic: { name: string; address?: string };
  try {
    nic = vp.chooseInterface(flags.interface);
  } catch (error) {
    if (error instanceof vp.VirtualPiError && error.code === 'NO_INTERFACE') {
      throw new CliError('NO_INTERFACE', error.message, 2);
    }
    throw error;
  }
  const tftp = flags.server ? parseServer(flags.server) : undefined;
  const report = await vp.bootVirtualPi({
    // modelSpec() refuses, with the reason, the table's models it does not simulate (3A+, Zero 2 W).
    model: (flags.model ?? 'pi4') as PiModel,
    serial: flags.serial ?? DISCOVER_DEFAULT_SERIAL,
    dhcp: { server: flags.dhcp ?? BROADCAST, interface: nic.name },
    ...(tftp ? { tftp } : {}),
    timeoutMs: flags.timeout,
  });
  if (g.json) out.data(report);
  else out.raw(vp.formatReport(report));
  if (report.verdict !== 'would boot') process.exitCode = 1;
}
