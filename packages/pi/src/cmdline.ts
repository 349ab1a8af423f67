/**
 * cmdline.txt read as the firmware and kernel do: the firmware takes the first line only
 * (config_txt/boot.adoc "cmdline"), the kernel splits it on whitespace. We extract what decides an NFS root
 * (Documentation/admin-guide/nfs/nfsroot.rst): `root=/dev/nfs`, `nfsroot=[<server-ip>:]<root-dir>[,<nfs-options>]`,
 * `ip=` (the Pi's bootloader cannot hand its DHCP lease to the kernel, so `ip=dhcp` is needed).
 */

import { definedOnly } from './defined.js';

export interface NfsRoot {
  /** Server address; undefined when nfsroot= has none (the kernel then uses the DHCP server / ip= server). */
  server?: string;
  path: string;
  /** NFS version from vers=/nfsvers=/v3 options; 'default' when not given. */
  version: string;
  options: string[];
}

export interface Cmdline {
  /** The line the firmware passes to the kernel. */
  line: string;
  params: Map<string, string | true>;
  root?: string;
  nfsroot?: NfsRoot;
  ip?: string;
  init?: string;
}

function tokens(line: string): string[] {
  // Kernel parameter parsing: whitespace separated, double quotes group (lib/cmdline.c next_arg()).
  const out: string[] = [];
  const re = /(?:[^\s"]+|"[^"]*")+/g;
  for (const m of line.matchAll(re)) out.push(m[0].replace(/"/g, ''));
  return out;
}

export function parseNfsRoot(value: string): NfsRoot {
  const [target = '', ...options] = value.split(',');
  const colon = target.indexOf(':');
  const server = colon > 0 ? target.slice(0, colon) : undefined;
  const path = colon >= 0 ? target.slice(colon + 1) : target;
  let version = 'default';
  for (const option of options) {
    const versionMatch = /^(?:vers|nfsvers)=(.+)$/.exec(option) ?? /^v([234](?:\.[0-9])?)$/.exec(option);
    if (versionMatch?.[1]) version = versionMatch[1];
  }
  return { ...definedOnly({ server }), path, version, options };
}

export function parseCmdline(text: string): Cmdline {
  const line = (text.split(/\r?\n/)[0] ?? '').trim();
  const params = new Map<string, string | true>();
  for (const t of tokens(line)) {
    const eq = t.indexOf('=');
    if (eq < 0) params.set(t, true);
    else params.set(t.slice(0, eq), t.slice(eq + 1));
  }
  const get = (k: string) => {
    const v = params.get(k);
    return typeof v === 'string' ? v : undefined;
  };
  const out: Cmdline = { line, params };
  const root = get('root');
  if (root !== undefined) out.root = root;
  const nfsroot = get('nfsroot');
  if (nfsroot !== undefined) out.nfsroot = parseNfsRoot(nfsroot);
  const ip = get('ip');
  if (ip !== undefined) out.ip = ip;
  const init = get('init');
  if (init !== undefined) out.init = init;
  return out;
}

/**
 * What the klibc nfsmount of the Raspberry Pi OS initramfs cannot mount (documentation#3205): an
 * explicit NFS v4 (it speaks v2/v3; no vers= means its default, v3) and any proto= option.
 */
export function initramfsNfsProblems(nfsroot: NfsRoot): { version: boolean; proto: boolean } {
  return {
    version: /^4/.test(nfsroot.version),
    proto: nfsroot.options.some((option) => option.startsWith('proto=')),
  };
}

/** Problems that would stop an NFS-root boot, first one first; empty when it would mount its root. */
export function cmdlineProblems(
  c: Cmdline,
  boot: { initramfs: boolean },
): { fatal: string[]; warnings: string[] } {
  const fatal: string[] = [];
  const warnings: string[] = [];
  if (!c.nfsroot) {
    fatal.push(
      c.root && c.root !== '/dev/nfs'
        ? `cmdline.txt has no nfsroot= (root=${c.root} needs a local disk)`
        : 'cmdline.txt has no nfsroot=',
    );
    return { fatal, warnings };
  }
  if (c.root !== '/dev/nfs') {
    fatal.push(`cmdline.txt has nfsroot= but root=${c.root ?? '(none)'} instead of root=/dev/nfs`);
  }
  if (!c.nfsroot.path) fatal.push('cmdline.txt nfsroot= has no export path');
  if (c.ip === undefined) {
    fatal.push('cmdline.txt has no ip= (the kernel must configure eth0 itself, e.g. ip=dhcp)');
  } else if (c.ip === 'off' || c.ip === 'none') {
    fatal.push(`cmdline.txt has ip=${c.ip}: the kernel would not configure eth0 to mount the NFS root`);
  }
  if (boot.initramfs) {
    const initramfs = initramfsNfsProblems(c.nfsroot);
    if (initramfs.version) {
      fatal.push(
        `nfsroot= asks for vers=${c.nfsroot.version} but the initramfs's nfsmount only mounts NFS v2/v3 (use vers=3)`,
      );
    }
    if (initramfs.proto) {
      fatal.push("nfsroot= has proto=, which the initramfs's nfsmount rejects (drop it; TCP is the default)");
    }
  }
  if (c.init?.includes('firstboot') || c.init?.includes('init_resize')) {
    warnings.push(`cmdline.txt still has init=${c.init}, a first-boot script that needs a local disk`);
  }
  if (c.params.has('resize')) warnings.push("cmdline.txt still has 'resize', which needs a local disk");
  return { fatal, warnings };
}
