/**
 * The initramfs step of a shared root without root privileges: Linux unpacks concatenated cpio
 * archives (compressed or not) into one initramfs, so Bramble appends a small uncompressed newc archive
 * to the image's own initramfs (Documentation/driver-api/early-userspace/buffer-format.rst). It holds
 *   scripts/bramble           BOOT_SCRIPT: initramfs-tools' init sources it for `boot=bramble`
 *   scripts/bramble-overlay   OVERLAY_SCRIPT (the one overlay script, also used by the hook route)
 *   bramble/modules/KVER/     overlay, loop, ext4 and their dependencies from the base's
 *                             /lib/modules/KVER (as the base ships them: .ko, .ko.xz or .ko.zst) and
 *                             `load`, their load order; every kernel version of the base, so each of
 *                             its initramfs files finds the modules of its own kernel (uname -r)
 *   bramble/bin/insmod        -> /bin/kmod: kmod's insmod reads compressed modules (klibc's does not)
 * Without `boot=bramble` on the cmdline nothing in it runs: copy-mode nodes boot the same file unchanged.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CpioEntry, writeCpio } from '../cpio.js';
import { BootTreeError } from '../errors.js';
import { NodeTree } from '../node-tree.js';
import { BOOT_SCRIPT, BOOT_SCRIPT_NAME, INITRAMFS_OVERLAY_PATH, OVERLAY_SCRIPT } from './initramfs.js';

/** Modules the overlay step needs (loaded with their dependencies unless built in or already there). */
export const OVERLAY_MODULES = ['overlay', 'loop', 'ext4'] as const;
/** Bounds on what a base may make us read and append. */
const MAX_KERNELS = 16;
const MAX_ARCHIVE_BYTES = 64 * 1024 * 1024;
const MAX_MODULE_BYTES = 16 * 1024 * 1024;
const MAX_DEP_BYTES = 8 * 1024 * 1024;
/** An initramfs is read whole to append to it. */
const MAX_INITRAMFS_BYTES = 512 * 1024 * 1024;
/** Initramfs files the Pi firmware loads with `auto_initramfs=1` (per kernel: 8, 2712, 7l, 7, none). */
const AUTO_INITRAMFS = ['initramfs8', 'initramfs_2712', 'initramfs7l', 'initramfs7', 'initramfs'] as const;
/** The U-Boot netboot script's initramfs (uboot-script.ts). */
const UBOOT_INITRAMFS = 'initramfs8';

const KVER = /^[A-Za-z0-9._+-]{1,64}$/;
const MODULE_PATH = /^[A-Za-z0-9._+/-]{1,255}\.ko(\.xz|\.zst|\.gz)?$/;
const PLAIN_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Module name of a modules.dep path: basename without .ko[.xz|.zst|.gz], dashes as underscores. */
export function moduleName(path: string): string {
  return (path.split('/').pop() ?? '').replace(/\.ko(\.xz|\.zst|\.gz)?$/, '').replace(/-/g, '_');
}

/** modules.dep: module name → its path and its dependencies' paths (hostile input: bad rows skipped). */
function parseModulesDep(text: string): Map<string, { path: string; deps: string[] }> {
  const out = new Map<string, { path: string; deps: string[] }>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter((d) => d.length > 0);
    if (![path, ...deps].every((p) => MODULE_PATH.test(p) && !p.split('/').includes('..'))) continue;
    out.set(moduleName(path), { path, deps });
  }
  return out;
}

/** Paths of `wanted` and their dependencies, dependencies first; built-in modules left out. */
function loadOrder(
  dep: Map<string, { path: string; deps: string[] }>,
  builtin: ReadonlySet<string>,
  wanted: readonly string[],
): string[] | undefined {
  const order: string[] = [];
  const visit = (name: string, depth: number): boolean => {
    if (builtin.has(name)) return true;
    const entry = dep.get(name);
    if (!entry || depth > 32) return false;
    if (order.includes(entry.path)) return true;
    for (const d of entry.deps) if (!visit(moduleName(d), depth + 1)) return false;
    order.push(entry.path);
    return true;
  };
  return wanted.every((name) => visit(name, 0)) ? order : undefined;
}

export interface BootArchive {
  /** The newc archive to append (length a multiple of 4). */
  archive: Buffer;
  /** Kernel versions of the base whose modules it carries. */
  kernels: string[];
}

/**
 * The archive for a base root: the scripts, and per kernel version of the base the overlay step's
 * modules. A kernel whose modules.dep lacks one of them (and that does not have it built in) is left
 * out; `kernels` is empty when no kernel qualifies (kernels with everything built in and no
 * /lib/modules still boot; the caller warns).
 */
export async function bootArchive(baseRoot: NodeTree | string): Promise<BootArchive> {
  const base = await NodeTree.from(baseRoot);
  const kernels: string[] = [];
  const entries: CpioEntry[] = [
    { type: 'directory', path: 'bramble' },
    { type: 'directory', path: 'bramble/bin' },
    { type: 'symlink', path: 'bramble/bin/insmod', target: '/bin/kmod' },
    { type: 'directory', path: 'bramble/modules' },
  ];
  let bytes = 0;
  const versions = (await base.readdir('/lib/modules'))
    .filter((e) => e.isDirectory() && KVER.test(e.name))
    .map((e) => e.name)
    .sort();
  for (const kver of versions.slice(0, MAX_KERNELS)) {
    const dir = `/lib/modules/${kver}`;
    const depText = await base.readText(`${dir}/modules.dep`, MAX_DEP_BYTES).catch(() => undefined);
    if (depText === undefined) continue;
    const builtinText = (await base.readText(`${dir}/modules.builtin`, MAX_DEP_BYTES).catch(() => '')) ?? '';
    const builtin = new Set(builtinText.split('\n').filter(Boolean).map(moduleName));
    const order = loadOrder(parseModulesDep(depText), builtin, OVERLAY_MODULES);
    if (!order) continue;
    const files: CpioEntry[] = [];
    const load: string[] = [];
    for (const path of order) {
      const data = await base.readFile(`${dir}/${path}`, MAX_MODULE_BYTES).catch(() => undefined);
      if (!data) break;
      const file = path.split('/').pop() ?? path;
      bytes += data.length;
      files.push({ type: 'file', path: `bramble/modules/${kver}/${file}`, data });
      load.push(file);
    }
    if (load.length !== order.length) continue;
    if (bytes > MAX_ARCHIVE_BYTES) {
      throw new BootTreeError(
        'FILE_TOO_LARGE',
        `the overlay modules of the base's kernels exceed ${MAX_ARCHIVE_BYTES} bytes`,
      );
    }
    entries.push({ type: 'directory', path: `bramble/modules/${kver}` }, ...files, {
      type: 'file',
      path: `bramble/modules/${kver}/load`,
      data: load.map((f) => `${f}\n`).join(''),
    });
    kernels.push(kver);
  }
  entries.push(
    { type: 'file', path: `scripts/${BOOT_SCRIPT_NAME}`, data: BOOT_SCRIPT, mode: 0o755 },
    { type: 'file', path: INITRAMFS_OVERLAY_PATH, data: OVERLAY_SCRIPT, mode: 0o755 },
  );
  return { archive: writeCpio(entries), kernels };
}

/**
 * The initramfs files of a boot partition: those config.txt names (`initramfs FILE ...`), the
 * `auto_initramfs=1` names, and the U-Boot script's initramfs8 — the ones that exist as files.
 */
export async function initramfsNames(bootDir: NodeTree | string): Promise<string[]> {
  const boot = await NodeTree.from(bootDir);
  const config = (await boot.readText('/config.txt').catch(() => undefined)) ?? '';
  const names = new Set<string>([UBOOT_INITRAMFS]);
  for (const line of config.split('\n')) {
    const named = /^\s*initramfs\s+([^\s#]+)/.exec(line);
    for (const name of named?.[1]?.split(',') ?? []) names.add(name);
    if (/^\s*auto_initramfs\s*=\s*1\s*$/.test(line)) for (const name of AUTO_INITRAMFS) names.add(name);
  }
  const out: string[] = [];
  for (const name of [...names].sort()) {
    if (PLAIN_NAME.test(name) && (await boot.lstat(`/${name}`))?.isFile()) out.push(name);
  }
  return out;
}

/** `original`, zero padding to 4 bytes (where the kernel looks for the next archive), `archive`. */
export function appendArchive(original: Uint8Array, archive: Uint8Array): Buffer {
  return Buffer.concat([original, Buffer.alloc((4 - (original.length % 4)) % 4), archive]);
}

export interface InstalledBootArchive {
  /** The image's initramfs files (none: the image cannot boot a shared root). */
  initramfs: string[];
  /** Those rewritten by this call. */
  written: string[];
  /** Kernel versions whose overlay modules the archive carries. */
  kernels: string[];
}

/**
 * Make each initramfs of the image's shared boot files (`sharedDir`) its pristine copy from `bootDir`
 * with the base's boot archive appended. Idempotent (unchanged files are not rewritten); files are
 * replaced by rename.
 */
export async function installBootArchive(o: {
  bootDir: string;
  sharedDir: string;
  baseRoot: string;
}): Promise<InstalledBootArchive> {
  const names = await initramfsNames(o.bootDir);
  if (names.length === 0) return { initramfs: [], written: [], kernels: [] };
  const { archive, kernels } = await bootArchive(o.baseRoot);
  const boot = await NodeTree.open(o.bootDir);
  const shared = await NodeTree.open(o.sharedDir);
  const written: string[] = [];
  for (const name of names) {
    const original = await boot.readFile(`/${name}`, MAX_INITRAMFS_BYTES);
    if (!original) continue;
    const want = appendArchive(original, archive);
    const have = await shared.readFile(`/${name}`, MAX_INITRAMFS_BYTES).catch(() => undefined);
    if (have?.equals(want)) continue;
    const path = join(o.sharedDir, name);
    const tmp = `${path}.bramble-tmp-${process.pid}`;
    try {
      await writeFile(tmp, want, { flag: 'wx', mode: 0o644 });
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
    written.push(name);
  }
  return { initramfs: names, written, kernels };
}
