/**
 * A shared-root node's identity, written without touching the base: personalisation runs on a staging
 * tree (hard links to the part of the base it reads, plus the node's current identity on top), and what
 * differs from the base afterwards becomes the node's identity directory in its layer.
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
import type { Stats } from 'node:fs';
import {
  chmod,
  copyFile,
  lchown,
  link,
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
import { BootTreeError } from '../errors.js';
import { MAX_TREE_ENTRIES, MAX_TREE_READ_BYTES, NodeTree } from '../node-tree.js';

/** Directories of the base personalisation reads or writes (the staging tree holds only these). */
export const IDENTITY_SOURCES = [
  '/etc',
  '/home',
  '/root',
  '/var/lib/dbus',
  '/var/lib/bramble',
  '/usr/lib/systemd/system',
  '/lib/systemd/system',
] as const;

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
  /** Node paths staged from the base (to find what personalisation removed). */
  staged: Set<string>;
}

const isRoot = (): boolean => process.getuid?.() === 0;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Hard link (copy across file systems) `src` to `dst`. */
async function linkOrCopy(src: string, dst: string): Promise<void> {
  try {
    await link(src, dst);
  } catch (e) {
    if (errno(e) !== 'EXDEV' && errno(e) !== 'EPERM') throw e;
    await copyFile(src, dst);
  }
}

/**
 * Mirror one base entry into the stage: directories made, regular files hard-linked, symlinks recreated
 * verbatim (they resolve in the staging tree as in the node); other entries skipped. `path` is resolved
 * once through NodeTree; below a real directory, children are plain names (no symlink is followed).
 */
async function mirror(base: NodeTree, stageRoot: string, path: string, staged: Set<string>): Promise<void> {
  const st = await base.lstat(path);
  const host = st ? await base.hostPath(path, false) : undefined;
  if (!host || !st) return;
  await mirrorEntry(host, st, stageRoot, path, staged);
}

async function mirrorEntry(
  host: string,
  st: Stats,
  stageRoot: string,
  path: string,
  staged: Set<string>,
): Promise<void> {
  if (staged.size > MAX_TREE_ENTRIES) {
    throw new BootTreeError(
      'FILE_TOO_LARGE',
      `the base's identity directories hold over ${MAX_TREE_ENTRIES} entries`,
    );
  }
  const dst = join(stageRoot, path);
  if (await lstat(dst).catch(() => undefined)) return;
  staged.add(path);
  if (st.isSymbolicLink()) await symlink(await readlink(host), dst);
  else if (st.isFile()) await linkOrCopy(host, dst);
  else if (st.isDirectory()) {
    await mkdir(dst);
    await chmod(dst, st.mode & 0o7777);
    if (isRoot()) await lchown(dst, st.uid, st.gid);
    const names = await readdir(host);
    if (names.length > MAX_TREE_ENTRIES) {
      throw new BootTreeError('FILE_TOO_LARGE', `${path} in the base has over ${MAX_TREE_ENTRIES} entries`);
    }
    for (const name of names) {
      const child = join(host, name);
      const cst = await lstat(child).catch(() => undefined);
      if (cst) await mirrorEntry(child, cst, stageRoot, `${path}/${name}`, staged);
    }
  }
}

/** Make the parents of `path` in the stage as the base has them (real directories or symlinks). */
async function mirrorParents(base: NodeTree, stageRoot: string, path: string): Promise<boolean> {
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
  const staged = new Set<string>();
  for (const path of IDENTITY_SOURCES) {
    if (await mirrorParents(base, dir, path)) await mirror(base, dir, path, staged);
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
  return { tree, dir, staged };
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

/**
 * Whether the staged entry is the base's entry: same inode, or same kind, mode, owner (as root) and
 * content. `b` is undefined when the base has nothing there.
 */
async function sameAsBase(
  stageHost: string,
  s: Stats,
  baseHost: string,
  b: Stats | undefined,
): Promise<boolean> {
  if (!b) return false;
  if (s.ino === b.ino && s.dev === b.dev) return true;
  // Without root, staged copies and directories cannot carry the base's owners: compare modes only.
  const owners = !isRoot() || (s.uid === b.uid && s.gid === b.gid);
  if ((s.mode & 0o177777) !== (b.mode & 0o177777) || !owners) return false;
  if (s.isDirectory()) return true;
  if (s.isSymbolicLink()) return (await readlink(stageHost)) === (await readlink(baseHost));
  if (s.isFile() && s.size === b.size && s.size <= MAX_TREE_READ_BYTES) {
    return (await readFile(stageHost)).equals(await readFile(baseHost));
  }
  return false;
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
  // Both trees are walked through real directories only (a child is a plain name below a directory
  // lstat saw), so no symlink is followed on the host; below a directory the base does not have as a
  // real directory, nothing is looked up in the base.
  const walk = async (path: string, inBase: boolean): Promise<void> => {
    const names = (await readdir(join(stage.tree.root, path))).sort();
    for (const name of names) {
      const p = `${path}/${name}`;
      const host = join(stage.tree.root, p);
      const baseHost = join(base.root, p);
      const st = await lstat(host).catch(() => undefined);
      if (!st) continue;
      const b = inBase ? await lstat(baseHost).catch(() => undefined) : undefined;
      const same = await sameAsBase(host, st, baseHost, b);
      if (st.isDirectory()) {
        if (!same) {
          await out.mkdirp(p, st.mode & 0o7777);
          await out.chmod(p, st.mode & 0o7777);
          if (isRoot()) await out.lchown(p, st.uid, st.gid);
          hash.update(`d ${p} ${st.mode} ${st.uid}:${st.gid}\n`);
          written.push(p);
        }
        await walk(p, b?.isDirectory() ?? false);
      } else if (!same && st.isSymbolicLink()) {
        const target = await readlink(host);
        await out.symlink(target, p);
        hash.update(`l ${p} ${target}\n`);
        written.push(p);
      } else if (!same && st.isFile()) {
        const data = (await stage.tree.readFile(p)) as Buffer;
        await out.writeFile(p, data, { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
        hash.update(`f ${p} ${st.mode} ${st.uid}:${st.gid} `).update(data).update('\n');
        written.push(p);
      }
    }
  };
  await walk('', true);
  const removed: string[] = [];
  for (const p of [...stage.staged].sort()) {
    if (!(await stage.tree.lstat(p)) && !removed.some((r) => p.startsWith(`${r}/`))) {
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
  await rm(stage.dir, { recursive: true, force: true });
  return written;
}
