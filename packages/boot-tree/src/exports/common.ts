import { createHash } from 'node:crypto';
import { BootTreeError } from '../errors.js';
import type { NfsVersion } from '../node-spec.js';

/** What the export generators need to know about a provisioned node (a subset of NodeLayout). */
export interface ExportNode {
  hostname: string;
  /** Node IPv4 address; exports are scoped to it. */
  address?: string | undefined;
  /** Exported NFS root of the node. */
  rootPath: string;
  /**
   * Shared-root nodes: the image's base root, exported read-only to every node of the image (then
   * rootPath is the node's layer directory). NFSv4 lowers: overlayfs copy-up fails on the
   * system.nfs4_acl xattr, so shared bases are best mounted with NFSv3 or from an export without ACLs.
   */
  basePath?: string | undefined;
  /**
   * Shared-root nodes: the image's other stored bases (`storedBasePaths`). A node keeps running on the
   * base it booted until it reboots, so after `image update` the old base stays exported, read-only, until
   * `image prune` deletes it.
   */
  olderBasePaths?: readonly string[] | undefined;
  /** Exported boot (TFTP) directory of the node, mounted at /boot or /boot/firmware. */
  bootPath: string;
  nfsVersion: NfsVersion;
  /** Release boots through an initramfs (Bookworm+): its nfsmount speaks only NFS v2/v3. */
  usesInitramfs: boolean;
}

export interface ExportScopeOptions {
  /** Clients for nodes without an address, e.g. '10.0.0.0/24'. */
  defaultClients?: string;
  /** Allow `*` for nodes without an address (never the default). */
  allowAnyClient?: boolean;
}

/** The client spec a node's exports are scoped to; throws NO_CLIENT_ADDRESS rather than exporting to `*`. */
export function clientsFor(n: ExportNode, options: ExportScopeOptions): string {
  if (n.address) return n.address;
  if (options.defaultClients) return options.defaultClients;
  if (options.allowAnyClient) return '*';
  throw new BootTreeError(
    'NO_CLIENT_ADDRESS',
    `node '${n.hostname}' has no address: set its address, pass defaultClients (e.g. '10.0.0.0/24'), or allowAnyClient to export to '*'`,
  );
}

/** A stable 31-bit id for an export path (same path → same id on every run and host). */
export function stableId(path: string): number {
  const h = createHash('sha256').update(`bramble-export:${path}`).digest();
  return h.readUInt32BE(0) & 0x7fffffff || 1;
}

/**
 * Every path a set of nodes exports, sorted, with the node it belongs to. A path is read-only when every
 * node exporting it has it as its shared base ('base'), read-write otherwise.
 */
export function exportedPaths(
  nodes: readonly ExportNode[],
): { path: string; node: ExportNode; kind: 'root' | 'boot' | 'base' }[] {
  const out: { path: string; node: ExportNode; kind: 'root' | 'boot' | 'base' }[] = [];
  for (const n of nodes) {
    if (n.basePath) out.push({ path: n.basePath, node: n, kind: 'base' });
    for (const older of n.olderBasePaths ?? []) out.push({ path: older, node: n, kind: 'base' });
    out.push({ path: n.rootPath, node: n, kind: 'root' });
    out.push({ path: n.bootPath, node: n, kind: 'boot' });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Ids in [min, max] derived from the path hash; collisions are resolved by probing (deterministic for a set). */
export function assignIds(paths: readonly string[], min: number, max: number): Map<string, number> {
  const span = max - min + 1;
  const used = new Set<number>();
  const out = new Map<string, number>();
  for (const p of [...new Set(paths)].sort()) {
    let id = min + (stableId(p) % span);
    for (let i = 0; i < span && used.has(id); i++) id = min + ((id - min + 1) % span);
    used.add(id);
    out.set(p, id);
  }
  return out;
}

/** Whether a merged export is read-only: only shared-root bases are (never a node's own root or boot). */
export function readOnlyExport(kinds: Iterable<'root' | 'boot' | 'base'>): boolean {
  let any = false;
  for (const kind of kinds) {
    if (kind !== 'base') return false;
    any = true;
  }
  return any;
}
