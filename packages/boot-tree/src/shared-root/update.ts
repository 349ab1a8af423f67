/**
 * What a base update means for a shared-root node: which paths its layer overrides (its identity, and
 * what the node itself wrote or deleted in its upper volume) that the new base changed. Only the layer's
 * paths are compared in the two bases, so the cost follows the layer, not the image.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BootTreeError } from '../errors.js';
import { MAX_TREE_ENTRIES, NodeTree } from '../node-tree.js';
import { IDENTITY_DIR } from './identity.js';
import { UPPER_FILE } from './layer.js';

export type BaseChange = 'modified' | 'added' | 'removed';

export interface LayerOverride {
  /** Node path, e.g. /etc/passwd. */
  path: string;
  /** Where the layer's version comes from: Bramble's identity, or the node's own upper volume. */
  source: 'identity' | 'upper';
  /** How the new base differs from the old one at this path. */
  change: BaseChange;
}

/** Node paths of the regular files, symlinks and directories in a host directory (bounded). */
async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true }).catch(() => [])) {
      const p = `${rel}/${e.name}`;
      if (out.push(p) > MAX_TREE_ENTRIES) {
        throw new BootTreeError('FILE_TOO_LARGE', `layer '${dir}' has over ${MAX_TREE_ENTRIES} entries`);
      }
      if (e.isDirectory()) await walk(p);
    }
  };
  if (await lstat(dir).catch(() => undefined)) await walk('');
  return out;
}

/** One `ls -p` row of debugfs: /ino/mode/uid/gid/name/size/. */
const LS_ROW = /^\/(\d+)\/(\d+)\/\d+\/\d+\/(.*)\/\d*\/$/;

/**
 * Paths in the upper volume's `upper/` directory (what the node wrote; whiteouts = what it deleted),
 * read without mounting: one debugfs run per directory depth (`ls -p` of every directory at it).
 */
export async function upperVolumePaths(volume: string): Promise<string[]> {
  if (!(await lstat(volume).catch(() => undefined))?.isFile()) return [];
  const out: string[] = [];
  let level = ['/upper'];
  for (let depth = 0; level.length > 0 && depth < 64; depth++) {
    const r = await execa('debugfs', ['-f', '-', volume], {
      input: level.map((d) => `ls -p "${d}"`).join('\n'),
      reject: false,
      timeout: 120_000,
      env: { ...process.env, DEBUGFS_PAGER: '__none__', PAGER: '__none__' },
    }).catch((e: unknown) => ({ exitCode: -1, stdout: '', stderr: String(e) }));
    if (r.exitCode !== 0) {
      throw new BootTreeError(
        'TOOL_FAILED',
        `debugfs on ${volume}: ${String(r.stderr).slice(0, 300)} (install e2fsprogs)`,
      );
    }
    const next: string[] = [];
    let dir = '';
    for (const line of String(r.stdout).split('\n')) {
      const cmd = /^debugfs: ls -p "(.*)"$/.exec(line);
      if (cmd) {
        dir = cmd[1] ?? '';
        continue;
      }
      const row = LS_ROW.exec(line);
      if (!row || row[3] === '.' || row[3] === '..' || !dir) continue;
      const host = `${dir}/${row[3]}`;
      const path = host.slice('/upper'.length);
      if (out.push(path) > MAX_TREE_ENTRIES) {
        throw new BootTreeError(
          'FILE_TOO_LARGE',
          `upper volume ${volume} has over ${MAX_TREE_ENTRIES} entries`,
        );
      }
      if ((Number.parseInt(row[2] ?? '0', 8) & 0o170000) === 0o040000) next.push(host);
    }
    level = next;
  }
  return out;
}

/** How `path` differs between the bases (undefined when it does not). Directories compare by mode/owner. */
async function baseChange(
  oldBase: NodeTree,
  newBase: NodeTree,
  path: string,
): Promise<BaseChange | undefined> {
  const [a, b] = [
    await oldBase.lstat(path).catch(() => undefined),
    await newBase.lstat(path).catch(() => undefined),
  ];
  if (!a && !b) return undefined;
  if (!a) return 'added';
  if (!b) return 'removed';
  if (
    (a.mode & 0o170000) !== (b.mode & 0o170000) ||
    a.mode !== b.mode ||
    a.uid !== b.uid ||
    a.gid !== b.gid
  ) {
    return 'modified';
  }
  if (a.isDirectory()) return undefined;
  if (a.isSymbolicLink()) {
    const [x, y] = [await oldBase.hostPath(path, false), await newBase.hostPath(path, false)];
    return x && y && (await readlink(x)) === (await readlink(y)) ? undefined : 'modified';
  }
  if (a.size !== b.size) return 'modified';
  if (a.isFile()) {
    const [x, y] = [
      await oldBase.readFile(path).catch(() => undefined),
      await newBase.readFile(path).catch(() => undefined),
    ];
    if (!x || !y) return a.mtimeMs === b.mtimeMs ? undefined : 'modified'; // larger than the read bound
    return x.equals(y) ? undefined : 'modified';
  }
  return undefined;
}

/**
 * The paths a node's layer overrides that changed between `oldBase` and `newBase`, sorted by path.
 * Directories are reported only when their own mode or owner changed.
 */
export async function layerOverrides(o: {
  layerDir: string;
  oldBase: string;
  newBase: string;
}): Promise<LayerOverride[]> {
  const [oldBase, newBase] = [await NodeTree.open(o.oldBase), await NodeTree.open(o.newBase)];
  const paths = new Map<string, 'identity' | 'upper'>();
  for (const p of await listTree(join(o.layerDir, IDENTITY_DIR))) paths.set(p, 'identity');
  for (const p of await upperVolumePaths(join(o.layerDir, UPPER_FILE))) paths.set(p, 'upper');
  const out: LayerOverride[] = [];
  for (const [path, source] of [...paths].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const change = await baseChange(oldBase, newBase, path);
    if (change) out.push({ path, source, change });
  }
  return out;
}
