/**
 * cmdline.txt of a shared-root node: the stock NFS-root tokens point at the image's read-only base (the
 * initramfs `nfs` script mounts it at ${rootmnt}, read-only), `boot=bramble` selects Bramble's boot
 * script, and three `bramble.*` tokens tell the initramfs overlay script (initramfs.ts) where the node's
 * layer is and what its writable upper is.
 * Nothing per node is hard-coded in the image: everything is on this line.
 */
import type { NfsVersion } from '../node-spec.js';
import { patchCmdline } from '../patch/cmdline.js';
import { checkPath, checkServer } from '../patch/validate.js';
import { BOOT_SCRIPT_NAME } from './initramfs.js';

/** Where a shared node's writable upper layer lives: an ext4 volume file in its layer export, or RAM. */
export type UpperKind = 'volume' | 'tmpfs';

export interface SharedCmdlineOptions {
  nfsServer: string;
  /** Exported path of the image's base root (read-only export). */
  basePath: string;
  /** Exported path of the node's layer directory (identity + upper volume). */
  layerPath: string;
  upper: UpperKind;
  nfsVersion: NfsVersion | string;
}

const BRAMBLE_PREFIX = 'bramble.';
/** initramfs-tools' boot script selector (init sources /scripts/${BOOT}). */
const BOOT_PREFIX = 'boot=';

/**
 * Patch an image's cmdline.txt for a shared root: patchCmdline's NFS root on the base, mounted `ro`, plus
 * `boot=bramble` (the boot script Bramble appends to the initramfs, boot-archive.ts) and
 * `bramble.base=SERVER:/BASE bramble.layer=SERVER:/LAYER bramble.upper=volume|tmpfs`. Pure, idempotent,
 * one line.
 */
export function patchSharedCmdline(text: string, o: SharedCmdlineOptions): string {
  const server = checkServer(o.nfsServer);
  const base = checkPath(o.basePath, 'basePath');
  const layer = checkPath(o.layerPath, 'layerPath');
  const kept = text
    .split(/\s+/)
    .filter((t) => t.length > 0 && !t.startsWith(BRAMBLE_PREFIX) && !t.startsWith(BOOT_PREFIX))
    .join(' ');
  const nfs = patchCmdline(kept, { nfsServer: server, nfsPath: base, nfsVersion: o.nfsVersion })
    .trim()
    .split(' ')
    // The base export is read-only: the initramfs mounts it ro and the overlay makes `/` writable.
    .map((t) => (t === 'rw' ? 'ro' : t));
  const ours = [
    `${BOOT_PREFIX}${BOOT_SCRIPT_NAME}`,
    `bramble.base=${server}:${base}`,
    `bramble.layer=${server}:${layer}`,
    `bramble.upper=${o.upper}`,
  ];
  return `${[...nfs, ...ours].join(' ')}\n`;
}

/** The `bramble.*` parameters of a cmdline (undefined when it is not a shared-root cmdline). */
export function parseSharedCmdline(text: string): { base: string; layer: string; upper: string } | undefined {
  const values = new Map<string, string>();
  for (const tok of text.split(/\s+/)) {
    const i = tok.indexOf('=');
    if (tok.startsWith(BRAMBLE_PREFIX) && i > 0)
      values.set(tok.slice(BRAMBLE_PREFIX.length, i), tok.slice(i + 1));
  }
  const base = values.get('base');
  const layer = values.get('layer');
  if (!base || !layer) return undefined;
  return { base, layer, upper: values.get('upper') ?? 'volume' };
}

/** Rewrite the base of a shared-root cmdline (nfsroot= and bramble.base=) keeping every other token. */
export function switchSharedBase(text: string, server: string, basePath: string): string {
  const s = checkServer(server);
  const base = checkPath(basePath, 'basePath');
  const toks = text
    .split(/\s+/)
    .filter((t) => t.length > 0)
    .map((t) => {
      if (t.startsWith('bramble.base=')) return `bramble.base=${s}:${base}`;
      if (t.startsWith('nfsroot=')) {
        const [, ...options] = t.slice('nfsroot='.length).split(',');
        return [`nfsroot=${s}:${base}`, ...options].join(',');
      }
      return t;
    });
  return `${toks.join(' ')}\n`;
}
