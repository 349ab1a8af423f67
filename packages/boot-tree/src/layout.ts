import { copyFile, link, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Logger } from '@bramble/logger';
import { definedOnly } from '@bramble/pi';
import { cloneTree } from './clone.js';
import { BootTreeError } from './errors.js';
import { ensureSymlink, exists } from './fs-util.js';
import { NodeTree } from './node-tree.js';

/** Files that are real, per-node files in a node's TFTP directory (never shared with the image). */
export const PER_NODE_BOOT_FILES = [
  'cmdline.txt',
  'config.txt',
  'ssh',
  'ssh.txt',
  'userconf.txt',
  'userconf',
  'user-data',
  'meta-data',
  'network-config',
  'firstrun.sh',
  'custom.toml',
] as const;

/** Directory inside the TFTP root holding one shared copy of each image's boot files. */
export const IMAGES_DIR = '.images';

export type LinkMode = 'hardlink' | 'symlink';

/**
 * Remove every entry of `dir` that is neither a regular file nor a directory (symlinks, FIFOs, devices).
 * A boot partition is FAT, which has none: one found in an image's boot files is hostile (e.g.
 * `bootcode.bin -> /etc/shadow`) and must not reach the TFTP root, where a server would serve its target.
 */
async function dropSpecialEntries(dir: string, log?: Logger): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) await dropSpecialEntries(path, log);
    else if (!e.isFile()) {
      log?.warn({ path }, 'image boot files: not a regular file (a FAT boot partition has none), dropped');
      await rm(path, { force: true });
    }
  }
}

/** `<tftpRoot>/.images/<image>`: the image's boot files, copied once (metadata kept) and shared by its nodes. */
export async function installImageBoot(
  tftpRoot: string,
  image: { name: string; bootDir: string },
  options: { refresh?: boolean; logger?: Logger; signal?: AbortSignal } = {},
): Promise<string> {
  const dst = join(tftpRoot, IMAGES_DIR, image.name);
  const fresh = await cloneTree(image.bootDir, dst, {
    overwrite: options.refresh ?? false,
    ...definedOnly({ logger: options.logger, signal: options.signal }),
  });
  if (fresh) await dropSpecialEntries(dst, options.logger);
  return dst;
}

/**
 * `bootcode.bin` at the TFTP root, where the Pi 3 boot ROM asks for it (no serial prefix). Copied from the
 * image's boot files when missing; an existing one is kept (several images share the root, and any recent
 * bootcode.bin boots them all) unless `replace` is set, then it is replaced when it differs.
 * Missing in the image (Pi 5-only images): nothing is done.
 */
export async function installBootcode(
  tftpRoot: string,
  imageBootDir: string,
  replace = false,
): Promise<boolean> {
  // Read through NodeTree: a `bootcode.bin -> /etc/shadow` symlink in the image must not copy a host
  // file into the (world-readable) TFTP root.
  const src = await NodeTree.open(imageBootDir);
  const st = await src.stat('/bootcode.bin');
  if (!st?.isFile()) return false;
  const dst = join(tftpRoot, 'bootcode.bin');
  if (!replace && (await exists(dst))) return false;
  const a = (await src.readFile('/bootcode.bin')) as Buffer;
  const b = await readFile(dst).catch(() => undefined);
  if (b?.equals(a)) return false;
  await mkdir(tftpRoot, { recursive: true });
  const tmp = `${dst}.bramble-tmp-${process.pid}`;
  await writeFile(tmp, a, { flag: 'wx' });
  await rename(tmp, dst);
  return true;
}

async function hardlinkTree(
  src: string,
  dst: string,
  skipTop: ReadonlySet<string>,
  top: boolean,
): Promise<number> {
  await mkdir(dst, { recursive: true });
  let n = 0;
  for (const e of await readdir(src, { withFileTypes: true })) {
    if (top && skipTop.has(e.name)) continue;
    const s = join(src, e.name);
    const d = join(dst, e.name);
    const ds = await lstat(d).catch(() => undefined);
    // Directories and regular files only: boot files come from a FAT partition, which has no symlinks.
    if (e.isDirectory()) {
      if (ds && !ds.isDirectory()) await rm(d, { force: true });
      n += await hardlinkTree(s, d, skipTop, false);
    } else if (e.isFile()) {
      const ss = await lstat(s);
      if (ds && ds.ino === ss.ino && ds.dev === ss.dev) continue;
      if (ds) await rm(d, { recursive: true, force: true });
      try {
        await link(s, d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        await copyFile(s, d);
      }
      n++;
    }
  }
  return n;
}

/**
 * Populate a node's TFTP directory with the image's shared boot files, except the per-node files.
 * 'hardlink' (default): every file is a hard link to the shared copy — the node directory is a complete,
 * self-contained boot folder for TFTP and for the Pi's NFS mount of it at /boot(/firmware).
 * 'symlink': each top-level entry is a relative symlink into `../.images/<image>/` — fine for TFTP
 * servers that follow symlinks inside their root, but dangling when the Pi mounts the directory over NFS.
 * Returns the number of links created or replaced.
 */
export async function linkNodeBoot(
  sharedDir: string,
  nodeDir: string,
  mode: LinkMode = 'hardlink',
): Promise<number> {
  if (!(await exists(sharedDir)))
    throw new BootTreeError('NOT_FOUND', `shared boot files '${sharedDir}' missing`);
  const skip = new Set<string>(PER_NODE_BOOT_FILES);
  await mkdir(nodeDir, { recursive: true });
  if (mode === 'hardlink') return hardlinkTree(sharedDir, nodeDir, skip, true);
  let n = 0;
  for (const e of await readdir(sharedDir)) {
    if (skip.has(e)) continue;
    const d = join(nodeDir, e);
    if (await ensureSymlink(relative(nodeDir, join(sharedDir, e)), d)) n++;
  }
  return n;
}
