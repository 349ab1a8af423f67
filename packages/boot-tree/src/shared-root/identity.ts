/**
 * A shared-root node's identity, written without touching the base: personalisation runs on a staging
 * tree (hard links to the part of the base it reads — IDENTITY_SOURCES whole, /etc's own files — made by
 * one `cp -a -l`, plus the node's current identity on top), and what differs from the base afterwards
 * becomes the node's identity directory in its layer. The base's staged entries are listed by `find`
 * beside the copy, the stage by one more `find` at the end: no per-file round trips, no second pass over
 * the base.
 *
 * Layer directory (exported read-write to the node only):
 *   identity/          files, symlinks and directories that differ from the base (owners/modes kept)
 *   identity.removed   base paths personalisation removed, one per line (whited out by the initramfs)
 *   identity.stamp     sha256 of the above: the initramfs re-applies the identity when it changes
 *   upper.ext4         the node's writable upper layer (ext4 in a sparse file; volume mode only)
 *
 * NodeTree writes replace files by rename (never write through), so a hard-linked base file is never
 * changed by personalisation; every staged path is compared with the base by inode, then by content.
 */
import { createHash } from 'node:crypto';
import {
  chmod,
  lchown,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
} from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BootTreeError } from '../errors.js';
import { MAX_TREE_ENTRIES, MAX_TREE_READ_BYTES, NodeTree } from '../node-tree.js';

/**
 * Directories of the base personalisation reads or writes, staged whole (with the non-directory entries
 * of IDENTITY_SHALLOW_SOURCES, the staging tree holds only these): SSH config and host keys, systemd units
 * and their links, SysV rc links, sudoers drop-ins, the skeleton home, cloud-init drop-ins, homes,
 * machine-id, Bramble's state.
 */
export const IDENTITY_SOURCES = [
  '/etc/ssh',
  '/etc/systemd/system',
  '/etc/sudoers.d',
  '/etc/skel',
  '/etc/cloud',
  ...['0', '1', '2', '3', '4', '5', '6', 'S'].map((level) => `/etc/rc${level}.d`),
  '/home',
  '/root',
  '/var/lib/dbus',
  '/var/lib/bramble',
  '/usr/lib/systemd/system',
  '/lib/systemd/system',
] as const;

/**
 * Directories of which only the directory itself and its non-directory entries are staged: /etc's files
 * (passwd, shadow, group, gshadow, fstab, hostname, hosts, machine-id…), not its other subdirectories
 * (ssl, alternatives, apt…, thousands of entries personalisation never reads).
 */
export const IDENTITY_SHALLOW_SOURCES = ['/etc'] as const;

export const IDENTITY_DIR = 'identity';
export const IDENTITY_REMOVED = 'identity.removed';
export const IDENTITY_STAMP = 'identity.stamp';
const STAGE_DIR = '.bramble-stage';

/** The directory holding a shared node's identity files (its /etc/fstab, /etc/hostname… for checks). */
export function identityRoot(layerDir: string): string {
  return join(layerDir, IDENTITY_DIR);
}

export interface Stage {
  /** The staging tree: personalise it like a node root. */
  tree: NodeTree;
  dir: string;
  /** Node paths mirrored from the base (whole subtrees), to find what personalisation removed. */
  sources: string[];
  /** Directories made in the stage as the base has them (ancestors of the sources). */
  parents: string[];
  /** The staged part of the base (sources and parents) as it was when staged, by node path. */
  inBase: Map<string, ScanEntry>;
}

const isRoot = (): boolean => process.getuid?.() === 0;

/**
 * Mirror the base's identity sources into the stage with one `cp -a -l --parents` run (directories
 * recreated with their modes and owners, files hard-linked, symlinks copied as symlinks — never followed;
 * they resolve in the staging tree as in the node). Each source was checked to be the entry itself (no
 * symlink on the way). Across file systems (or where hard links are refused) the sources are copied
 * instead: same metadata, more space in the stage only.
 */
async function mirror(base: NodeTree, stageRoot: string, sources: readonly string[]): Promise<void> {
  if (sources.length === 0) return;
  const relative = sources.map((path) => path.slice(1));
  const cp = (link: boolean) =>
    execa('cp', ['-a', ...(link ? ['-l'] : []), '--parents', '--', ...relative, stageRoot], {
      cwd: base.root,
      reject: false,
      timeout: 300_000,
    }).catch((e: unknown) => ({ exitCode: -1, stderr: String(e) }));
  if ((await cp(true)).exitCode === 0) return;
  for (const path of sources) await rm(join(stageRoot, path), { recursive: true, force: true });
  const copied = await cp(false);
  if (copied.exitCode !== 0) {
    throw new BootTreeError(
      'COPY_FAILED',
      `staging ${sources.join(', ')} of the base failed: ${String(copied.stderr).slice(0, 300)}`,
    );
  }
}

/** Whether the base entry at `path` can be staged: it exists and no symlink is on the way to it. */
async function stageable(base: NodeTree, stageRoot: string, path: string): Promise<boolean> {
  const st = await base.lstat(path);
  const host = st ? await base.hostPath(path, false) : undefined;
  if (!host || !st || host !== join(base.root, path)) return false;
  return !(await lstat(join(stageRoot, path)).catch(() => undefined));
}

/** One entry of a scan: find's type letter (f d l …), inode, permission bits, owner, size. */
export interface ScanEntry {
  type: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

/**
 * Every entry under the `starts` (host paths inside `hostRoot`, themselves included) that passes find's
 * `tests` (e.g. -maxdepth 1), keyed by node path (host path relative to `hostRoot`; `hostRoot` itself is
 * `/`), from one `find -P` run (symlinks never followed). At most MAX_TREE_ENTRIES entries.
 */
async function scan(
  hostRoot: string,
  starts: readonly string[],
  tests: readonly string[] = [],
): Promise<Map<string, ScanEntry>> {
  const out = new Map<string, ScanEntry>();
  if (starts.length === 0) return out;
  const r = await execa('find', ['-P', ...starts, ...tests, '-printf', '%y %i %m %U %G %s %p\\0'], {
    reject: false,
    timeout: 300_000,
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'buffer',
  }).catch((e: unknown) => ({ exitCode: -1, stdout: Buffer.alloc(0), stderr: String(e) }));
  if (r.exitCode !== 0) {
    throw new BootTreeError(
      'TOOL_FAILED',
      `find ${starts.join(' ')}: ${String(r.stderr).slice(0, 300)} (install findutils)`,
    );
  }
  for (const record of Buffer.from(r.stdout as Uint8Array)
    .toString('utf8')
    .split('\0')) {
    if (!record) continue;
    const m = /^(\S) (\d+) ([0-7]+) (\d+) (\d+) (\d+) ([\s\S]*)$/.exec(record);
    const host = m?.[7];
    if (!m || host === undefined || (host !== hostRoot && !host.startsWith(`${hostRoot}/`))) continue;
    if (out.size >= MAX_TREE_ENTRIES) {
      throw new BootTreeError('FILE_TOO_LARGE', `${starts.join(' ')} hold over ${MAX_TREE_ENTRIES} entries`);
    }
    out.set(host.slice(hostRoot.length) || '/', {
      type: m[1] ?? '',
      ino: Number(m[2]),
      mode: Number.parseInt(m[3] ?? '0', 8),
      uid: Number(m[4]),
      gid: Number(m[5]),
      size: Number(m[6]),
    });
  }
  return out;
}

/** Make the parents of `path` in the stage as the base has them (real directories or symlinks). */
async function mirrorParents(
  base: NodeTree,
  stageRoot: string,
  path: string,
  parents: string[],
): Promise<boolean> {
  const parts = path.split('/').filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const p = `/${parts.slice(0, i).join('/')}`;
    const host = join(base.root, p);
    const st = await lstat(host).catch(() => undefined);
    if (!st) return false;
    const dst = join(stageRoot, p);
    if (await lstat(dst).catch(() => undefined)) continue;
    if (st.isSymbolicLink()) {
      await symlink(await readlink(host), dst);
      return false; // e.g. /lib -> usr/lib: staged through its target
    }
    if (!st.isDirectory()) return false;
    await mkdir(dst);
    await chmod(dst, st.mode & 0o7777);
    if (isRoot()) await lchown(dst, st.uid, st.gid);
    parents.push(p);
  }
  return true;
}

/**
 * Stage the base's identity directories under `<layerDir>/.bramble-stage` and lay the node's current
 * identity (if any) over them, so re-provisioning keeps its machine-id and host keys.
 */
export async function stageIdentity(
  baseDir: string,
  layerDir: string,
  o: { carry?: 'all' | 'secrets' } = {},
): Promise<Stage> {
  const base = await NodeTree.open(baseDir);
  const dir = join(layerDir, STAGE_DIR);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const sources: string[] = [];
  const parents: string[] = [];
  // Shallow sources: made as parents (real directories, no symlink on the way), then their files.
  const shallow: string[] = [];
  const files: string[] = [];
  for (const path of IDENTITY_SHALLOW_SOURCES) {
    if (!(await mirrorParents(base, dir, `${path}/-`, parents))) continue;
    shallow.push(path);
    for (const entry of await readdir(join(base.root, path), { withFileTypes: true })) {
      if (files.length >= MAX_TREE_ENTRIES) {
        throw new BootTreeError('FILE_TOO_LARGE', `${path} holds over ${MAX_TREE_ENTRIES} entries`);
      }
      if (!entry.isDirectory()) files.push(`${path}/${entry.name}`);
    }
  }
  for (const path of IDENTITY_SOURCES) {
    if ((await mirrorParents(base, dir, path, parents)) && (await stageable(base, dir, path)))
      sources.push(path);
  }
  // Entries mirrorParents made already (a symlink such as /etc/systemd -> …) are not staged again.
  const staged = new Set([...parents, ...sources]);
  const wanted = [];
  for (const path of files) {
    if (!staged.has(path) && !(await lstat(join(dir, path)).catch(() => undefined))) wanted.push(path);
  }
  // One cp for the stage and finds for the base's entries, side by side.
  const [inBase, inShallow] = await Promise.all([
    scan(
      base.root,
      sources.map((path) => join(base.root, path)),
    ),
    scan(
      base.root,
      shallow.map((path) => join(base.root, path)),
      ['-mindepth', '1', '-maxdepth', '1', '!', '-type', 'd'],
    ),
    mirror(base, dir, [...wanted, ...sources]),
  ]);
  for (const [path, entry] of inShallow) if (!inBase.has(path)) inBase.set(path, entry);
  for (const p of parents) {
    const st = await lstat(join(base.root, p));
    inBase.set(p, {
      type: 'd',
      ino: st.ino,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: st.size,
    });
  }
  const tree = await NodeTree.open(dir);
  const current = join(layerDir, IDENTITY_DIR);
  if ((await lstat(current).catch(() => undefined)) && o.carry === 'secrets') {
    // A new base: only what must survive it (machine-id, SSH host keys); the rest is derived again.
    const identity = await NodeTree.open(current);
    for (const path of await secretPaths(identity)) {
      const data = await identity.readFile(path);
      const st = await identity.lstat(path);
      if (data && st) await tree.writeFile(path, data, { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
    }
  } else if (await lstat(current).catch(() => undefined)) {
    const identity = await NodeTree.open(current);
    await overlay(identity, tree, '');
    const removed = (await NodeTree.open(layerDir)).readText(`/${IDENTITY_REMOVED}`);
    for (const path of ((await removed) ?? '').split('\n').filter((p) => p.startsWith('/'))) {
      await tree.remove(path);
    }
  }
  return { tree, dir, sources, parents, inBase };
}

/** The identity files a node keeps across base updates: its machine-id and SSH host keys. */
async function secretPaths(identity: NodeTree): Promise<string[]> {
  const out: string[] = [];
  if ((await identity.lstat('/etc/machine-id'))?.isFile()) out.push('/etc/machine-id');
  for (const e of await identity.readdir('/etc/ssh')) {
    if (e.isFile() && e.name.startsWith('ssh_host_')) out.push(`/etc/ssh/${e.name}`);
  }
  return out;
}

/** Copy every entry of `from` over `to` (files replaced by rename; owners and modes kept). */
async function overlay(from: NodeTree, to: NodeTree, path: string): Promise<void> {
  for (const e of await from.readdir(path || '/')) {
    const p = `${path}/${e.name}`;
    const st = await from.lstat(p);
    if (!st) continue;
    if (e.isDirectory()) {
      await to.mkdirp(p, st.mode & 0o7777);
      await to.chmod(p, st.mode & 0o7777);
      if (isRoot()) await to.lchown(p, st.uid, st.gid);
      await overlay(from, to, p);
    } else if (e.isSymbolicLink()) {
      await to.symlink(await readlink(join(from.root, p)), p);
    } else if (e.isFile()) {
      const data = await from.readFile(p);
      if (data) await to.writeFile(p, data, { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
    }
  }
}

/** Whether the staged entry is the base's: same inode, or same kind, mode, owner (as root) and content. */
async function sameAsBase(
  stageHost: string,
  s: ScanEntry,
  baseHost: string,
  b: ScanEntry | undefined,
): Promise<boolean> {
  if (!b || s.type !== b.type) return false;
  // A hard link of the base's file or symlink (cp -a -l links symlinks too; neither is ever written in place).
  if (s.ino === b.ino && (s.type === 'f' || s.type === 'l')) return true;
  // Without root, staged copies and directories cannot carry the base's owners: compare modes only.
  const owners = !isRoot() || (s.uid === b.uid && s.gid === b.gid);
  if (s.mode !== b.mode || !owners) return false;
  if (s.type === 'd') return true;
  if (s.type === 'l') return (await readlink(stageHost)) === (await readlink(baseHost));
  if (s.type === 'f' && s.size === b.size && s.size <= MAX_TREE_READ_BYTES) {
    return (await readFile(stageHost)).equals(await readFile(baseHost));
  }
  return false;
}

/**
 * Remove a staging tree: one `rm -rf --one-file-system` (thousands of unlinks in one process, far quicker
 * than fs.rm's per-entry round trips), fs.rm if that fails.
 */
async function removeStage(dir: string): Promise<void> {
  const r = await execa('rm', ['-rf', '--one-file-system', '--', dir], {
    reject: false,
    timeout: 300_000,
  }).catch(() => ({ exitCode: -1 }));
  if (r.exitCode !== 0 || (await lstat(dir).catch(() => undefined))) {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Write what the stage has that the base has not into a fresh `<layerDir>/identity` (swapped in by
 * rename), the removed base paths into identity.removed and the stamp; remove the stage.
 * Returns the identity's node paths.
 */
export async function commitIdentity(stage: Stage, baseDir: string, layerDir: string): Promise<string[]> {
  const base = await NodeTree.open(baseDir);
  const layer = await NodeTree.open(layerDir);
  const next = `${IDENTITY_DIR}.new`;
  await layer.remove(`/${next}`);
  await layer.mkdirp(`/${next}`, 0o755);
  const out = await NodeTree.open(join(layerDir, next));
  const hash = createHash('sha256');
  const written: string[] = [];
  // One find run over the stage; the base's entries were listed when it was staged. Inodes are compared
  // before anything is read.
  const staged = await scan(stage.tree.root, [stage.tree.root]);
  const inBase = stage.inBase;
  for (const p of [...staged.keys()].sort()) {
    const st = staged.get(p) as ScanEntry;
    if (p === '/') continue;
    const host = join(stage.tree.root, p);
    if (await sameAsBase(host, st, join(base.root, p), inBase.get(p))) continue;
    if (st.type === 'd') {
      await out.mkdirp(p, st.mode);
      await out.chmod(p, st.mode);
      if (isRoot()) await out.lchown(p, st.uid, st.gid);
      hash.update(`d ${p} ${st.mode} ${st.uid}:${st.gid}\n`);
      written.push(p);
    } else if (st.type === 'l') {
      const target = await readlink(host);
      await out.symlink(target, p);
      hash.update(`l ${p} ${target}\n`);
      written.push(p);
    } else if (st.type === 'f') {
      const data = (await stage.tree.readFile(p)) as Buffer;
      await out.writeFile(p, data, { mode: st.mode, uid: st.uid, gid: st.gid });
      hash.update(`f ${p} ${st.mode} ${st.uid}:${st.gid} `).update(data).update('\n');
      written.push(p);
    }
  }
  const removed: string[] = [];
  for (const p of [...inBase.keys()].sort()) {
    if (!staged.has(p) && !removed.some((r) => p.startsWith(`${r}/`))) {
      if (/[\n\r]/.test(p))
        throw new BootTreeError('UNSAFE_IMAGE', `base path ${JSON.stringify(p)} has a line break`);
      removed.push(p);
    }
  }
  hash.update(`removed ${removed.join('\n')}\n`);
  await layer.writeFile(`/${IDENTITY_REMOVED}`, removed.map((p) => `${p}\n`).join(''));
  await layer.remove(`/${IDENTITY_DIR}`);
  await rename(join(layerDir, next), join(layerDir, IDENTITY_DIR));
  await layer.writeFile(`/${IDENTITY_STAMP}`, `${hash.digest('hex')}\n`);
  await removeStage(stage.dir);
  return written;
}
