import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { VirtualPiError } from '../errors.js';

const run = promisify(execFile);

/** Linux interface names: at most 15 bytes (IFNAMSIZ - 1). */
export const NETDEV_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;
/** Network namespace names (files in /run/netns): kept plain, no '/'. */
export const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** How the emulated node's network card reaches the LAN. */
export interface EmulatorAttachment {
  /** QEMU `-netdev` value. */
  netdev: string;
  /** argv prefix that runs QEMU where the tap lives (`ip netns exec NS`), or empty. */
  prefix: string[];
  /** How it was attached, for the report. */
  describe: string;
  /** Remove what was created (idempotent). */
  release(): Promise<void>;
}

/**
 * Attach to an existing bridge:
 * - as root: a new tap device `bemu<6 hex>` enslaved to `bridge` (in namespace `netns` when given), QEMU
 *   opens it with `script=no`; the tap is deleted by `release()`;
 * - otherwise (no netns): QEMU's setuid qemu-bridge-helper (`-netdev bridge`), which creates and removes its
 *   own tap; /etc/qemu/bridge.conf must say `allow <bridge>`.
 */
export async function attachToBridge(options: {
  bridge: string;
  netns?: string;
  root: boolean;
}): Promise<EmulatorAttachment> {
  const { bridge, netns } = options;
  if (!NETDEV_NAME.test(bridge))
    throw new VirtualPiError('INVALID_OPTIONS', `bridge name '${bridge}' is not an interface name`);
  if (netns !== undefined && !NETNS_NAME.test(netns))
    throw new VirtualPiError('INVALID_OPTIONS', `network namespace name '${netns}' is not valid`);
  if (!options.root) {
    if (netns !== undefined) throw new VirtualPiError('NETWORK_SETUP', '--netns needs root (ip netns exec)');
    return {
      netdev: `bridge,id=net0,br=${bridge}`,
      prefix: [],
      describe: `bridge ${bridge} via qemu-bridge-helper`,
      release: async () => undefined,
    };
  }
  const ip = async (args: string[]) => {
    try {
      await run('ip', [...(netns ? ['-n', netns] : []), ...args], { timeout: 20_000 });
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
      throw new VirtualPiError(
        'NETWORK_SETUP',
        `ip ${args.join(' ')}${netns ? ` (namespace ${netns})` : ''} failed: ${stderr || (error as Error).message}`,
        { cause: error },
      );
    }
  };
  await ip(['link', 'show', 'dev', bridge]);
  const tap = `bemu${randomBytes(3).toString('hex')}`;
  await ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await ip(['link', 'del', 'dev', tap]).catch(() => undefined);
  };
  try {
    await ip(['link', 'set', 'dev', tap, 'master', bridge]);
    await ip(['link', 'set', 'dev', tap, 'up']);
  } catch (error) {
    await release();
    throw error;
  }
  return {
    netdev: `tap,id=net0,ifname=${tap},script=no,downscript=no`,
    prefix: netns ? ['ip', 'netns', 'exec', netns] : [],
    describe: `tap ${tap} on bridge ${bridge}${netns ? ` in namespace ${netns}` : ''}`,
    release,
  };
}
