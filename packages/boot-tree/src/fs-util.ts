/**
 * Host-side file helpers for paths Bramble itself owns (exports files, the TFTP root). Anything inside a
 * tree that came from an image goes through NodeTree (node-tree.ts) instead.
 */
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
import { dirname, relative } from 'node:path';

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
