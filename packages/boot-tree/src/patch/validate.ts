import { BootTreeError } from '../errors.js';
import { NFS_VERSIONS, type NfsVersion } from '../node-spec.js';

/** NFS server: IPv4 address or host name (no separators that would corrupt nfsroot=/fstab syntax). */
export function checkServer(s: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(s)) {
    throw new BootTreeError('INVALID_INPUT', `NFS server '${s}' is not an IPv4 address or host name`);
  }
  return s;
}

/** Absolute export path without whitespace, commas or colons. */
export function checkPath(p: string, what: string): string {
  if (!p.startsWith('/') || /[\s,:#]/.test(p) || p.split('/').includes('..')) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `${what} '${p}' must be an absolute path without '..', whitespace, ',', ':' or '#'`,
    );
  }
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

export function checkVersion(v: string): NfsVersion {
  if (!(NFS_VERSIONS as readonly string[]).includes(v)) {
    throw new BootTreeError('INVALID_INPUT', `NFS version '${v}' is not one of ${NFS_VERSIONS.join(', ')}`);
  }
  return v as NfsVersion;
}
