/**
 * NodeTree: the one way @bramble/boot-tree reads and writes inside a directory tree that came from an
 * image (a node's NFS root, a node's TFTP directory, an image's boot files). Image contents are hostile:
 * a symlink `etc -> /home/admin` or a passwd home of `/../../tmp` must never lead a read or a write
 * outside the tree.
 *
 * Paths are given as the node sees them (`/etc/passwd`). Each component is resolved inside the tree the
 * way the node's kernel would resolve it with the tree as its `/` (chroot semantics):
 * - a symlink's absolute target is rebased onto the tree root, never the host `/`; a relative target is
 *   resolved from the directory holding the link;
 * - `..` is clamped at the tree root (`/..` is `/`, as on Linux);
 * - at most MAX_SYMLINK_HOPS symlinks are followed per lookup (Linux's MAXSYMLINKS), else SYMLINK_LOOP;
 * - a non-directory where a directory is needed is NOT_A_DIRECTORY.
 * So `etc -> /x` in an image means the node's `/x`: writing `/etc/hostname` writes `<tree>/x/hostname`,
 * which is what the node reads at boot. That is the correct in-tree result, not an error.
 *
 * Writes never follow a final symlink: files are written to a temporary name opened with
 * O_CREAT|O_EXCL|O_NOFOLLOW in the resolved parent and renamed over the final name (an existing symlink
 * there is replaced, not written through); directories are made one component at a time inside the tree;
 * ownership uses lchown. Right before each write the parent's real path is checked to still be inside the
 * tree (ESCAPES_TREE otherwise). Reads open with O_NOFOLLOW|O_NONBLOCK, accept regular files only
 * (NOT_A_FILE: a FIFO or device in an image must not hang or read the host's device) and are bounded in
 * size (FILE_TOO_LARGE).
 */

import { randomBytes } from 'node:crypto';
import { constants, type Dirent, type Stats } from 'node:fs';
import {
  lchown,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  symlink,
} from 'node:fs/promises';
import { join, sep } from 'node:path';
import { BootTreeError } from './errors.js';

/** Symlinks followed in one lookup before SYMLINK_LOOP (Linux MAXSYMLINKS, fs/namei.c). */
export const MAX_SYMLINK_HOPS = 40;
/** Largest file NodeTree.readFile reads by default (passwd, fstab, os-release … are a few KiB). */
export const MAX_TREE_READ_BYTES = 16 * 1024 * 1024;
/** Longest in-tree path accepted (Linux PATH_MAX). */
export const MAX_TREE_PATH = 4096;
/** Most directory entries NodeTree.readdir / copyTree handle (an image's /etc has a few hundred). */
export const MAX_TREE_ENTRIES = 100_000;

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code;

function components(path: string): string[] {
  if (path.includes('\0')) throw new BootTreeError('INVALID_INPUT', `path contains a NUL byte: '${path}'`);
  if (path.length > MAX_TREE_PATH) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `path longer than ${MAX_TREE_PATH} bytes: '${path.slice(0, 80)}…'`,
    );
  }
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/** Where a lookup ended: the resolved in-tree components of the parent and the final entry's name. */
interface Located {
  /** Host path of the resolved parent directory (a real directory inside the tree). */
  parent: string;
  /** Final component ('' for the tree root itself). */
  name: string;
  /** Host path of the final entry (not followed unless asked). */
  host: string;
  /** lstat of the final entry, undefined when it does not exist. */
  stat: Stats | undefined;
  /** The resolved path as the node sees it (`/x/hostname`). */
  nodePath: string;
}

export interface TreeWriteOptions {
  /** File mode (default: the existing file's mode, else 0644). */
  mode?: number;
  /** Owner for a new file (as root only; an existing file's owner is kept unless this is given). */
  uid?: number;
  gid?: number;
}

export class NodeTree {
  private constructor(
    /** Real host path of the tree root. */
    readonly root: string,
  ) {}

  /** Open a tree at `root` (must be an existing directory; its own real path becomes the boundary). */
  static async open(root: string): Promise<NodeTree> {
    let real: string;
    try {
      real = await realpath(root);
    } catch (e) {
      throw new BootTreeError('NOT_FOUND', `tree '${root}' does not exist`, { cause: e });
    }
    const st = await lstat(real);
    if (!st.isDirectory()) throw new BootTreeError('NOT_A_DIRECTORY', `tree '${root}' is not a directory`);
    return new NodeTree(real);
  }

  /** `tree` as is, or a tree opened at the path. */
  static async from(tree: NodeTree | string): Promise<NodeTree> {
    return typeof tree === 'string' ? NodeTree.open(tree) : tree;
  }

  private fail(
    code: 'SYMLINK_LOOP' | 'NOT_A_DIRECTORY' | 'ESCAPES_TREE' | 'NOT_A_FILE',
    path: string,
    why: string,
  ): never {
    throw new BootTreeError(code, `${path} in tree '${this.root}': ${why}`);
  }

  /**
   * Resolve `path` inside the tree. Intermediate symlinks are always followed (in the tree); the final
   * one only with `followFinal`. With `create`, missing intermediate directories are made (0755, one
   * component at a time). Returns undefined when an intermediate directory is missing and not created.
   */
  private async locate(
    path: string,
    options: { followFinal: boolean; create: boolean },
  ): Promise<Located | undefined> {
    const resolved: string[] = [];
    const pending = components(path);
    let hops = 0;
    while (pending.length > 0) {
      const name = pending.shift() as string;
      if (name === '..') {
        resolved.pop(); // clamped at the tree root
        continue;
      }
      const last = pending.length === 0;
      const host = join(this.root, ...resolved, name);
      let st = await lstat(host).catch((e: unknown) => {
        if (errno(e) === 'ENOENT') return undefined;
        throw e;
      });
      if (!st && !last) {
        if (!options.create) return undefined;
        await mkdir(host, { mode: 0o755 }).catch((e: unknown) => {
          if (errno(e) !== 'EEXIST') throw e;
        });
        st = await lstat(host);
      }
      if (st?.isSymbolicLink() && (!last || options.followFinal)) {
        if (++hops > MAX_SYMLINK_HOPS) {
          this.fail('SYMLINK_LOOP', path, `more than ${MAX_SYMLINK_HOPS} symlinks (a loop?)`);
        }
        const target = await readlink(host);
        const next = components(target);
        if (target.startsWith('/')) resolved.length = 0; // absolute: the node's `/` is the tree root
        pending.unshift(...next);
        if (next.length === 0 && target === '') this.fail('NOT_A_DIRECTORY', path, 'empty symlink target');
        continue;
      }
      if (!last) {
        if (!st?.isDirectory())
          this.fail('NOT_A_DIRECTORY', path, `'/${[...resolved, name].join('/')}' is not a directory`);
        resolved.push(name);
        continue;
      }
      const parent = join(this.root, ...resolved);
      return { parent, name, host, stat: st, nodePath: `/${[...resolved, name].join('/')}` };
    }
    // The path resolved to the tree root itself.
    const st = await lstat(join(this.root, ...resolved));
    const host = join(this.root, ...resolved);
    return { parent: host, name: '', host, stat: st, nodePath: `/${resolved.join('/')}` };
  }

  /** Throw ESCAPES_TREE unless the real path of `hostDir` is the root or below it. */
  private async assertInside(hostDir: string, path: string): Promise<void> {
    const real = await realpath(hostDir);
    if (real !== this.root && !real.startsWith(this.root + sep)) {
      this.fail('ESCAPES_TREE', path, `its directory resolves to '${real}', outside the tree`);
    }
  }

  /** Host path of `path` resolved in the tree (final symlink followed unless `followFinal` is false). */
  async hostPath(path: string, followFinal = true): Promise<string | undefined> {
    return (await this.locate(path, { followFinal, create: false }))?.host;
  }

  /** The path as the node sees it after resolving symlinks in the tree, e.g. `/x/hostname`. */
  async nodePath(path: string, followFinal = true): Promise<string | undefined> {
    return (await this.locate(path, { followFinal, create: false }))?.nodePath;
  }

  /** lstat of the entry (final symlink not followed); undefined when missing. */
  async lstat(path: string): Promise<Stats | undefined> {
    return (await this.locate(path, { followFinal: false, create: false }))?.stat;
  }

  /** stat of the entry with symlinks followed in the tree; undefined when missing or dangling. */
  async stat(path: string): Promise<Stats | undefined> {
    return (await this.locate(path, { followFinal: true, create: false }))?.stat;
  }

  /** True when an entry (even a dangling symlink) exists at `path`. */
  async exists(path: string): Promise<boolean> {
    return (await this.lstat(path)) !== undefined;
  }

  /** Read a regular file (symlinks followed in the tree); undefined when missing. */
  async readFile(path: string, maxBytes = MAX_TREE_READ_BYTES): Promise<Buffer | undefined> {
    const at = await this.locate(path, { followFinal: true, create: false });
    if (!at?.stat) return undefined;
    if (!at.stat.isFile()) this.fail('NOT_A_FILE', path, 'not a regular file');
    await this.assertInside(at.parent, path);
    const fh = await open(at.host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) this.fail('NOT_A_FILE', path, 'not a regular file');
      if (st.size > maxBytes) {
        throw new BootTreeError(
          'FILE_TOO_LARGE',
          `${path} in tree '${this.root}' is ${st.size} bytes, over ${maxBytes}`,
        );
      }
      const buf = Buffer.alloc(st.size);
      let off = 0;
      while (off < buf.length) {
        const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return buf.subarray(0, off);
    } finally {
      await fh.close();
    }
  }

  async readText(path: string, maxBytes?: number): Promise<string | undefined> {
    return (await this.readFile(path, maxBytes))?.toString('utf8');
  }

  /** Entries of a directory (symlinks followed in the tree); [] when missing or not a directory. */
  async readdir(path: string): Promise<Dirent[]> {
    const at = await this.locate(path, { followFinal: true, create: false });
    if (!at?.stat?.isDirectory()) return [];
    const entries = await readdir(at.host, { withFileTypes: true });
    if (entries.length > MAX_TREE_ENTRIES) {
      throw new BootTreeError(
        'FILE_TOO_LARGE',
        `${path} in tree '${this.root}' has over ${MAX_TREE_ENTRIES} entries`,
      );
    }
    return entries;
  }

  /**
   * `mkdir -p` inside the tree: every component resolved/created in the tree (an existing symlink to a
   * directory is followed in the tree, as mkdir -p does). Returns the host path and whether the final
   * directory was created.
   */
  async mkdirp(path: string, mode = 0o755): Promise<{ host: string; created: boolean }> {
    const at = await this.locate(path, { followFinal: true, create: true });
    if (!at) throw new BootTreeError('NOT_FOUND', `cannot create ${path}`);
    if (at.stat?.isDirectory()) return { host: at.host, created: false };
    if (at.stat) this.fail('NOT_A_DIRECTORY', path, 'exists and is not a directory');
    await this.assertInside(at.parent, path);
    await mkdir(at.host, { mode });
    return { host: at.host, created: true };
  }

  /**
   * Write a file atomically (temporary O_EXCL|O_NOFOLLOW file + rename) unless it already has this
   * content and mode. Returns whether it changed. An existing file's owner is kept (as root); a symlink
   * or directory at the final name is replaced, never written through.
   */
  async writeFile(path: string, content: string | Buffer, options: TreeWriteOptions = {}): Promise<boolean> {
    const at = await this.locate(path, { followFinal: false, create: true });
    if (!at || at.name === '')
      throw new BootTreeError('INVALID_INPUT', `cannot write '${path}': not a file path`);
    const data = Buffer.from(content);
    const cur = at.stat;
    const want = options.mode ?? (cur?.isFile() ? cur.mode & 0o7777 : 0o644);
    if (cur?.isFile() && (cur.mode & 0o7777) === want && cur.size === data.length) {
      const have = await this.readFile(path, data.length).catch(() => undefined);
      if (have?.equals(data)) return false;
    }
    await this.assertInside(at.parent, path);
    const tmp = join(at.parent, `.${at.name.slice(0, 200)}.bramble-${randomBytes(6).toString('hex')}`);
    const fh = await open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      await fh.writeFile(data);
      if (process.getuid?.() === 0) {
        const uid = options.uid ?? (cur?.isFile() ? cur.uid : undefined);
        const gid = options.gid ?? (cur?.isFile() ? cur.gid : undefined);
        if (uid !== undefined && gid !== undefined) await fh.chown(uid, gid);
      }
      await fh.chmod(want);
    } catch (e) {
      await fh.close();
      await rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    try {
      if (cur?.isDirectory()) await rm(at.host, { recursive: true, force: true });
      await rename(tmp, at.host);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return true;
  }

  /**
   * Create a new regular file through a tool: an exclusive temporary file (O_EXCL|O_NOFOLLOW, `mode`,
   * truncated to `size` — sparse) is made in the resolved parent, `fill(hostTempPath)` writes it (e.g.
   * mke2fs), then it is renamed over `path`. On failure the temporary file is removed.
   */
  async createFile(
    path: string,
    options: { mode: number; size?: number },
    fill: (hostTempPath: string) => Promise<void>,
  ): Promise<void> {
    const at = await this.locate(path, { followFinal: false, create: true });
    if (!at || at.name === '') throw new BootTreeError('INVALID_INPUT', `cannot create '${path}'`);
    await this.assertInside(at.parent, path);
    const tmp = join(at.parent, `.${at.name.slice(0, 200)}.bramble-${randomBytes(6).toString('hex')}`);
    const fh = await open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      options.mode,
    );
    try {
      await fh.chmod(options.mode);
      if (options.size !== undefined) await fh.truncate(options.size);
    } finally {
      await fh.close();
    }
    try {
      await fill(tmp);
      await this.assertInside(at.parent, path);
      if (at.stat?.isDirectory()) await rm(at.host, { recursive: true, force: true });
      await rename(tmp, at.host);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** Make `path` a symlink to `target` (the link itself is written; nothing is followed). */
  async symlink(target: string, path: string): Promise<boolean> {
    const at = await this.locate(path, { followFinal: false, create: true });
    if (!at || at.name === '') throw new BootTreeError('INVALID_INPUT', `cannot link '${path}'`);
    if (at.stat?.isSymbolicLink() && (await readlink(at.host)) === target) return false;
    await this.assertInside(at.parent, path);
    const tmp = join(at.parent, `.${at.name.slice(0, 200)}.bramble-${randomBytes(6).toString('hex')}`);
    await symlink(target, tmp);
    try {
      if (at.stat?.isDirectory()) await rm(at.host, { recursive: true, force: true });
      await rename(tmp, at.host);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return true;
  }

  /** Remove an entry (a symlink itself, never its target; a directory recursively). */
  async remove(path: string): Promise<boolean> {
    const at = await this.locate(path, { followFinal: false, create: false });
    if (!at?.stat) return false;
    if (at.name === '')
      throw new BootTreeError('INVALID_INPUT', `refusing to remove the tree root ('${path}')`);
    await this.assertInside(at.parent, path);
    await rm(at.host, { recursive: true, force: true });
    return true;
  }

  /** Rename an entry inside the tree (neither final name followed). Missing parents of `to` are made. */
  async rename(from: string, to: string): Promise<void> {
    const src = await this.locate(from, { followFinal: false, create: false });
    if (!src?.stat) throw new BootTreeError('NOT_FOUND', `${from} does not exist in tree '${this.root}'`);
    if (src.name === '')
      throw new BootTreeError('INVALID_INPUT', `refusing to move the tree root ('${from}')`);
    const dst = await this.locate(to, { followFinal: false, create: true });
    if (!dst || dst.name === '') throw new BootTreeError('INVALID_INPUT', `cannot move to '${to}'`);
    if (dst.host === src.host || dst.host.startsWith(src.host + sep)) {
      throw new BootTreeError('INVALID_INPUT', `cannot move ${from} into itself (${to})`);
    }
    await this.assertInside(src.parent, from);
    await this.assertInside(dst.parent, to);
    await rename(src.host, dst.host);
  }

  /** Change the owner of an entry without following a final symlink (lchown). */
  async lchown(path: string, uid: number, gid: number): Promise<void> {
    const at = await this.locate(path, { followFinal: false, create: false });
    if (!at?.stat) throw new BootTreeError('NOT_FOUND', `${path} does not exist in tree '${this.root}'`);
    await this.assertInside(at.parent, path);
    await lchown(at.host, uid, gid);
  }

  /** chmod an entry, resolved in the tree (a symlink's in-tree target; never a host file). */
  async chmod(path: string, mode: number): Promise<void> {
    const at = await this.locate(path, { followFinal: true, create: false });
    if (!at?.stat) throw new BootTreeError('NOT_FOUND', `${path} does not exist in tree '${this.root}'`);
    await this.assertInside(at.parent, path);
    const fh = await open(at.host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      await fh.chmod(mode);
    } finally {
      await fh.close();
    }
  }

  /**
   * Copy a directory of this tree (e.g. /etc/skel) to another path of it, like `cp -r` without
   * following symlinks: files are copied through writeFile, symlinks recreated verbatim, other entries
   * skipped. Existing destination entries are kept. At most MAX_TREE_ENTRIES entries.
   */
  async copyTree(from: string, to: string, owner?: { uid: number; gid: number }): Promise<number> {
    let count = 0;
    const walk = async (src: string, dst: string): Promise<void> => {
      for (const e of await this.readdir(src)) {
        if (++count > MAX_TREE_ENTRIES) {
          throw new BootTreeError('FILE_TOO_LARGE', `${from} has over ${MAX_TREE_ENTRIES} entries`);
        }
        const s = `${src}/${e.name}`;
        const d = `${dst}/${e.name}`;
        if (await this.exists(d)) continue;
        if (e.isDirectory()) {
          await this.mkdirp(d, 0o755);
          await walk(s, d);
        } else if (e.isSymbolicLink()) {
          const host = await this.hostPath(s, false);
          if (host) await this.symlink(await readlink(host), d);
        } else if (e.isFile()) {
          const data = await this.readFile(s);
          const mode = ((await this.lstat(s))?.mode ?? 0o644) & 0o777;
          if (data) await this.writeFile(d, data, { mode });
        } else continue;
        if (owner && process.getuid?.() === 0) await this.lchown(d, owner.uid, owner.gid);
      }
    };
    await walk(from, to);
    return count;
  }
}
