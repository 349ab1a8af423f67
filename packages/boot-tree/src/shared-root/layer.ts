/**
 * A shared-root node's layer directory (exported read-write to the node only; see identity.ts for its
 * identity files): its writable upper is `upper.ext4`, a sparse ext4 file the initramfs loop-mounts
 * (overlayfs cannot use NFS as its upper directory), or a tmpfs for stateless nodes.
 */
import { BootTreeError } from '../errors.js';
import type { NodeSpec } from '../node-spec.js';
import { NodeTree } from '../node-tree.js';
import { createExt4File, scratchBytes } from '../personalise/scratch.js';
import type { UpperKind } from './cmdline.js';

/** How a node's root is made: its own copy, or the image's shared base + a per-node overlay (ext4 or RAM). */
export const ROOT_MODES = ['copy', 'shared', 'shared-tmpfs'] as const;
export type RootMode = (typeof ROOT_MODES)[number];

export const UPPER_FILE = '/upper.ext4';
export const UPPER_LABEL = 'bramble-upper';
/** Default size of the sparse upper volume (takes only what the node writes). */
export const DEFAULT_UPPER_SIZE = '8G';
const MIN_UPPER = 64 * 1024 * 1024;

/** The node's upper kind, or undefined for a copy-mode node. */
export function upperKind(node: Pick<NodeSpec, 'root'>): UpperKind | undefined {
  if (node.root === 'shared') return 'volume';
  if (node.root === 'shared-tmpfs') return 'tmpfs';
  return undefined;
}

/** Create the layer's upper volume unless present (an existing one is kept whatever its size). */
export async function ensureUpperVolume(layerDir: string, size: string): Promise<string[]> {
  const bytes = scratchBytes(size);
  if (bytes === undefined || bytes < MIN_UPPER) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `upper volume size '${size}' is not a size of at least 64M (e.g. 8G)`,
    );
  }
  const tree = await NodeTree.open(layerDir);
  const cur = await tree.lstat(UPPER_FILE);
  if (cur?.isFile()) return [];
  await createExt4File(tree, UPPER_FILE, bytes, UPPER_LABEL);
  return [`layer:${UPPER_FILE}`];
}
