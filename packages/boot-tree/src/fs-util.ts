import {
  chmod,
  chown,
  lstat,
  mkdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { BootTreeError } from './errors.js';

/** Resolve `rel` inside `root`, refusing paths that would escape it. */
export function inside(root: string, rel: string): string {
  const r = resolve(root);
  const p = resolve(r, rel.replace(/^\/+/, ''));
  if (p !== r && !p.startsWith(r + sep)) {
    throw new BootTreeError('INVALID_INPUT', `path '${rel}' escapes '${root}'`);
  }
  return p;
}

export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Write a file atomically (temp + rename) unless it already has this content and mode. Returns whether it
 * changed. Owner and group of an existing file are kept (e.g. /etc/shadow root:shadow); `mode` defaults to
 * the existing file's mode, else 0644. A symlink at `path` is replaced by a real file, never written through.
 */
export async function writeText(path: string, content: string | Buffer, mode?: number): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  const want = mode ?? (st?.isFile() ? st.mode & 0o7777 : 0o644);
  if (st?.isFile()) {
    const cur = await readFile(path);
    if (cur.equals(Buffer.from(content)) && (st.mode & 0o7777) === want) return false;
  }
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.bramble-tmp-${process.pid}`;
  await writeFile(tmp, content, { mode: want });
  if (st?.isFile() && process.getuid?.() === 0) await chown(tmp, st.uid, st.gid);
  await chmod(tmp, want);
  if (st?.isDirectory()) await rm(path, { recursive: true, force: true });
  await rename(tmp, path);
  return true;
}

/** Make `path` a symlink to `target` (replacing whatever is there). Returns whether it changed. */
export async function ensureSymlink(target: string, path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  if (st?.isSymbolicLink() && (await readlink(path)) === target) return false;
  await mkdir(dirname(path), { recursive: true });
  if (st) await rm(path, { recursive: true, force: true });
  await symlink(target, path);
  return true;
}

/** Remove a file or symlink if present. Returns whether something was removed. */
export async function removeIfExists(path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return false;
  await rm(path, { recursive: true, force: true });
  return true;
}

/** Relative symlink target from the directory of `from` to `to`. */
export function relativeTarget(from: string, to: string): string {
  return relative(dirname(from), to);
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Look a user up in the root's /etc/passwd (never the host's). */
export async function lookupUser(rootDir: string, user: string): Promise<PasswdEntry | undefined> {
  const text = (await readTextIfExists(join(rootDir, 'etc/passwd'))) ?? '';
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 7) {
      return { name: user, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
    }
  }
  return undefined;
}
