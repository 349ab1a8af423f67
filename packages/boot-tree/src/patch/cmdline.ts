import type { NfsVersion } from '../node-spec.js';
import { checkPath, checkServer, checkVersion } from './validate.js';

export interface CmdlineOptions {
  nfsServer: string;
  /** Exported path of the node's root file system. */
  nfsPath: string;
  /** '3' for Bookworm+ with initramfs (klibc nfsmount accepts only vers=2|3, documentation#3205). */
  nfsVersion: NfsVersion | string;
}

/** Tokens removed from an image's cmdline.txt before the NFS-root tokens are appended. */
const DROP_PREFIXES = ['root=', 'rootfstype=', 'fsck.repair=', 'nfsroot=', 'ip='];
const DROP_EXACT = new Set([
  'init=/usr/lib/raspi-config/init_resize.sh', // Stretch–early Bullseye partition resize
  'init=/usr/lib/raspberrypi-sys-mods/firstboot', // late Bullseye / Bookworm first boot (block devices only)
  'resize', // Trixie initramfs resize hook
  'systemd.unit=kernel-command-line.target', // Imager first-run hook
  'rw',
  'ro',
  'rootwait',
]);

/** Imager first-run hooks: systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot … */
const SYSTEMD_RUN = /^systemd\.run[a-z_]*=/;

function dropped(tok: string): boolean {
  return DROP_EXACT.has(tok) || SYSTEMD_RUN.test(tok) || DROP_PREFIXES.some((p) => tok.startsWith(p));
}

/**
 * Patch cmdline.txt for an NFS root. Pure and idempotent: unknown tokens are kept in order, SD-card root
 * and first-boot tokens are removed, and `root=/dev/nfs nfsroot=SERVER:/PATH,vers=N rw ip=dhcp rootwait`
 * is appended. The result is always exactly one line (the firmware passes only the first line to the kernel).
 */
export function patchCmdline(text: string, options: CmdlineOptions): string {
  const server = checkServer(options.nfsServer);
  const path = checkPath(options.nfsPath, 'nfsPath');
  const vers = checkVersion(options.nfsVersion);
  const kept = text.split(/\s+/).filter((t) => t.length > 0 && !dropped(t));
  // ip=dhcp: the bootloader cannot hand its network state to the kernel, so the kernel must redo DHCP.
  const nfs = ['root=/dev/nfs', `nfsroot=${server}:${path},vers=${vers}`, 'rw', 'ip=dhcp', 'rootwait'];
  return `${[...kept, ...nfs].join(' ')}\n`;
}
