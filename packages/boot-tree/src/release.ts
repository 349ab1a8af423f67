import { BootTreeError } from './errors.js';
import type { NfsVersion } from './node-spec.js';
import { NodeTree } from './node-tree.js';

export type BootMount = '/boot' | '/boot/firmware';

export interface ReleaseInfo {
  /** os-release ID (`raspbian`, `debian`). */
  id: string;
  /** Debian codename (`stretch` … `trixie`). */
  codename: string;
  /** Debian major version as a string (`9` … `13`), '' when unknown. */
  version: string;
  /** Where the boot partition is mounted: `/boot` up to Bullseye, `/boot/firmware` from Bookworm. */
  bootMount: BootMount;
  /**
   * NFS version written to cmdline.txt/fstab by default: Bookworm+ boot through an initramfs whose klibc
   * nfsmount accepts only vers=2|3 (documentation#3205), so '3'; Stretch–Bullseye mount the root from the
   * kernel directly and use '4.1' like the original scripts.
   */
  defaultNfsVersion: NfsVersion;
  /** The image boots through an initramfs (`auto_initramfs=1`, Bookworm+). */
  usesInitramfs: boolean;
  /** The image configures itself from cloud-init NoCloud seed files on the boot partition (Trixie+). */
  usesCloudInit: boolean;
}

/** Debian codename → major version, oldest first. */
const CODENAMES: Record<string, number> = {
  jessie: 8,
  stretch: 9,
  buster: 10,
  bullseye: 11,
  bookworm: 12,
  trixie: 13,
  forky: 14,
  duke: 15,
};

/** Parse an os-release(5) file: KEY=value lines, values optionally quoted with shell escapes. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) {
      v = v.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    }
    out[m[1]!] = v;
  }
  return out;
}

/** Release facts from os-release fields (pure; used by detectRelease). */
export function releaseFromOsRelease(fields: Record<string, string>): ReleaseInfo {
  let codename = (fields.VERSION_CODENAME ?? '').toLowerCase();
  if (!codename) {
    const m = /\(([a-z]+)\)/.exec(fields.VERSION ?? '');
    if (m) codename = m[1]!;
  }
  let major = CODENAMES[codename];
  if (major === undefined) {
    const n = Number.parseInt(fields.VERSION_ID ?? '', 10);
    if (Number.isFinite(n) && n >= 8) major = n;
  }
  if (major === undefined) {
    throw new BootTreeError(
      'UNKNOWN_RELEASE',
      `cannot tell the Debian release from os-release (VERSION_CODENAME='${fields.VERSION_CODENAME ?? ''}', VERSION_ID='${fields.VERSION_ID ?? ''}'): is this a Raspberry Pi OS root file system?`,
    );
  }
  const modern = major >= 12;
  return {
    id: fields.ID ?? 'unknown',
    codename: codename || `debian${major}`,
    version: String(major),
    bootMount: modern ? '/boot/firmware' : '/boot',
    defaultNfsVersion: modern ? '3' : '4.1',
    usesInitramfs: modern,
    usesCloudInit: major >= 13,
  };
}

/**
 * Detect the release of an extracted root file system from `/etc/os-release` (or `/usr/lib/os-release`).
 * Cloud-init use is also detected from `/etc/cloud/cloud.cfg` being present.
 */
export async function detectRelease(rootDir: string): Promise<ReleaseInfo> {
  // Through NodeTree: `etc/os-release -> ../usr/lib/os-release` (Debian's own link) resolves in the
  // image; an absolute link resolves in the image too, never to the host's os-release.
  const tree = await NodeTree.open(rootDir).catch(() => undefined);
  let text: string | undefined;
  for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
    text = await tree?.readText(p, 64 * 1024).catch(() => undefined);
    if (text !== undefined) break;
  }
  if (text === undefined || tree === undefined) {
    throw new BootTreeError(
      'NOT_FOUND',
      `no etc/os-release or usr/lib/os-release under '${rootDir}': pass the extracted root partition of the image`,
    );
  }
  const info = releaseFromOsRelease(parseOsRelease(text));
  if (!info.usesCloudInit && (await tree.stat('/etc/cloud/cloud.cfg').catch(() => undefined))) {
    info.usesCloudInit = true;
  }
  return info;
}
