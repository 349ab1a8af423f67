/**
 * A per-node block-backed scratch volume: a sparse ext4 file system in a file of the node's own root,
 * loop-mounted by the node through fstab (default at /var/lib/containerd). containerd's overlayfs
 * snapshotter cannot work on an NFS root (k3s#3266, containerd#5464); on an ext4 loop device it can.
 *
 * The file is made without privileges: truncated to its size (sparse: it takes only what the node
 * writes), then `mke2fs -t ext4 -E root_owner=0:0` formats it in place (mke2fs works on regular files;
 * root_owner gives the root directory to root:root whoever runs it). An existing volume of the same size
 * is kept (its data survive re-provisioning); a different size is refused (no resize, no silent wipe).
 */
import { execa } from 'execa';
import { z } from 'zod';
import { BootTreeError } from '../errors.js';
import { NodeTree } from '../node-tree.js';

/** Where containerd keeps its state (k3s uses /var/lib/rancher, kubeadm+containerd /var/lib/containerd). */
export const SCRATCH_DEFAULT_PATH = '/var/lib/containerd';
/** The volume's file inside the node root. */
export const SCRATCH_FILE = '/var/lib/bramble/scratch.ext4';
export const SCRATCH_LABEL = 'bramble-scratch';
const MIN_BYTES = 64 * 1024 * 1024;
const MAX_BYTES = 16 * 1024 ** 4;
const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `20G`, `512M`, `1T` (binary units) → bytes; undefined when malformed. */
export function scratchBytes(size: string): number | undefined {
  const m = /^(\d{1,15})([KMGT]?)i?B?$/i.exec(size.trim());
  if (!m) return undefined;
  return Number(m[1]) * (UNITS[(m[2] ?? '').toUpperCase()] ?? 1);
}

export const ScratchSpec = z
  .object({
    /** Size of the volume (binary units: 512M, 20G, 1T); the file is sparse. 64M … 16T. */
    size: z.string().refine((s) => {
      const n = scratchBytes(s);
      return n !== undefined && n >= MIN_BYTES && n <= MAX_BYTES;
    }, 'expected a size from 64M to 16T, such as 20G'),
    /** Where the node mounts it: an absolute path of plain components (fstab field: no spaces). */
    path: z
      .string()
      .regex(/^(\/[A-Za-z0-9._+-]+)+$/, 'expected an absolute path such as /var/lib/containerd')
      .refine((p) => !p.split('/').some((c) => c === '.' || c === '..'), 'no . or .. components')
      .default(SCRATCH_DEFAULT_PATH),
  })
  .strict();
export type ScratchSpec = z.output<typeof ScratchSpec>;

/** Parse the CLI form `SIZE[:PATH]` (e.g. `20G`, `20G:/var/lib/rancher`); throws INVALID_INPUT. */
export function parseScratchFlag(text: string): ScratchSpec {
  const i = text.indexOf(':');
  const input = i < 0 ? { size: text } : { size: text.slice(0, i), path: text.slice(i + 1) };
  const r = ScratchSpec.safeParse(input);
  if (!r.success) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `scratch '${text}': ${r.error.issues.map((x) => x.message).join('; ')} (SIZE[:PATH], e.g. 20G:/var/lib/rancher)`,
    );
  }
  return r.data;
}

/**
 * Create (or keep) the node's scratch volume file and its mount point. Returns the changed paths.
 * The fstab line is written by patchFstab (option `scratch`).
 */
export async function ensureScratchVolume(root: NodeTree | string, spec: ScratchSpec): Promise<string[]> {
  const tree = await NodeTree.from(root);
  const bytes = scratchBytes(spec.size) as number;
  const changed: string[] = [];
  if ((await tree.mkdirp(spec.path, 0o755)).created) changed.push(spec.path);
  const cur = await tree.lstat(SCRATCH_FILE);
  if (cur?.isFile()) {
    if (cur.size !== bytes) {
      throw new BootTreeError(
        'INVALID_INPUT',
        `the node's scratch volume ${SCRATCH_FILE} is ${cur.size} bytes, not ${spec.size}: resizing is not supported; remove the file (its data are lost) to make a new one`,
      );
    }
    return changed;
  }
  await createExt4File(tree, SCRATCH_FILE, bytes, SCRATCH_LABEL);
  changed.push(SCRATCH_FILE);
  return changed;
}

/**
 * Create `path` in the tree as a sparse file of `bytes` formatted ext4 by mke2fs (root directory owned
 * by root whoever runs it). Also the upper volume of shared-root nodes (shared-root/layer.ts).
 */
export async function createExt4File(
  tree: NodeTree,
  path: string,
  bytes: number,
  label: string,
): Promise<void> {
  await tree.createFile(path, { mode: 0o600, size: bytes }, async (file) => {
    const r = await execa(
      'mke2fs',
      // lazy_journal_init: the file was just truncated to its size, so it reads as zeros already; zeroing
      // the journal again would allocate it (64 MiB+ of an otherwise sparse file).
      ['-q', '-F', '-t', 'ext4', '-m', '0', '-L', label, '-E', 'root_owner=0:0,lazy_journal_init=1', file],
      { reject: false, timeout: 300_000, env: { ...process.env, MKE2FS_CONFIG: '' } },
    ).catch((e: unknown) => ({ exitCode: -1, stderr: String(e) }));
    if (r.exitCode !== 0) {
      throw new BootTreeError(
        r.exitCode === -1 ? 'TOOL_MISSING' : 'TOOL_FAILED',
        `mke2fs -t ext4 on ${path} failed: ${String(r.stderr).slice(0, 500)} (install e2fsprogs)`,
      );
    }
  });
}
