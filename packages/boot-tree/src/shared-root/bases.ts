/**
 * The bases of an image in an image store directory (`<images>/`): shared-root nodes boot an extracted
 * image root read-only, and `image update` extracts each new one beside the old, so an image has
 *   NAME/                 its first extraction ({boot,root}/)
 *   NAME@<UTC stamp>/     one per update (e.g. NAME@20261201T061500Z)
 *   NAME.current          the store directory name of the current base (absent: NAME)
 * A base is in use while a node's layout or cmdline.txt names it; running nodes keep the base they booted
 * until they reboot. Removal is two-phase: every base to remove is first renamed to `.<dir>.deleting`
 * (all renamed, or none: a failed rename puts the others back), then deleted; a later prune finishes
 * `.deleting` directories an interrupted run left.
 */
import { readFileSync } from 'node:fs';
import { lstat, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BootTreeError } from '../errors.js';
import { MAX_TREE_ENTRIES } from '../node-tree.js';
import { parseSharedCmdline } from './cmdline.js';

export const CURRENT_BASE_SUFFIX = '.current';
const DELETING_SUFFIX = '.deleting';
/** A store directory name: the image name, or `NAME@STAMP`. */
const DIR_NAME = /^[A-Za-z0-9._-]+(@[A-Za-z0-9._-]+)?$/;
/** Largest NAME.current read (one directory name and a newline). */
const MAX_CURRENT_BYTES = 4096;

export interface StoredBase {
  image: string;
  /** Store directory name: `NAME` or `NAME@STAMP`. */
  name: string;
  /** Absolute store directory ({boot,root}/ inside). */
  dir: string;
  rootDir: string;
  /** The base NAME.current names (new nodes are provisioned on it): never removed while the image is kept. */
  current: boolean;
  /** Hostnames of the nodes whose layout or cmdline.txt names this base, sorted. */
  usedBy: string[];
}

/** What a node points at: from its stored layout (basePath) and its cmdline.txt (bramble.base=). */
export interface BaseUser {
  hostname: string;
  /** Absolute base root paths the node names. */
  basePaths: string[];
}

/** The store directory name of a base made now: `NAME@YYYYMMDDTHHMMSSZ`. */
export function newBaseName(image: string, now: Date = new Date()): string {
  checkImageName(image);
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${image}@${stamp}`;
}

function checkImageName(image: string): void {
  if (!/^[A-Za-z0-9._-]+$/.test(image) || image.startsWith('.')) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `image name '${image}' is not a store name (letters, digits, . _ -; not starting with .)`,
    );
  }
}

/** The path of an image's NAME.current file. */
export function currentBaseFile(imagesDir: string, image: string): string {
  checkImageName(image);
  return join(imagesDir, `${image}${CURRENT_BASE_SUFFIX}`);
}

/**
 * The store directory name of the image's current base: NAME.current's content, or NAME when there is no
 * such file. A NAME.current naming anything but NAME or NAME@… is INVALID_INPUT (never guessed around).
 */
export function currentBaseName(imagesDir: string, image: string): string {
  let text: string;
  try {
    text = readFileSync(currentBaseFile(imagesDir, image), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return image;
    throw new BootTreeError(
      'INVALID_INPUT',
      `cannot read ${currentBaseFile(imagesDir, image)}: ${String(e)}`,
    );
  }
  const name = text.slice(0, MAX_CURRENT_BYTES).trim();
  if (name !== image && !(name.startsWith(`${image}@`) && DIR_NAME.test(name))) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `${currentBaseFile(imagesDir, image)} names '${name.slice(0, 80)}', not a base of image '${image}'`,
    );
  }
  return name;
}

/**
 * What each node points at: its layout's basePath and the base its cmdline.txt (in its TFTP directory)
 * names with `bramble.base=SERVER:/PATH`. Copy-mode nodes name none. A missing cmdline.txt is skipped.
 */
export async function baseUsers(
  layouts: readonly { hostname: string; basePath?: string | undefined; tftpDir?: string | undefined }[],
): Promise<BaseUser[]> {
  const out: BaseUser[] = [];
  for (const layout of layouts) {
    const basePaths = layout.basePath ? [resolve(layout.basePath)] : [];
    if (layout.tftpDir) {
      const cmdline = await readFile(join(layout.tftpDir, 'cmdline.txt'), 'utf8').catch(() => undefined);
      const shared = cmdline === undefined ? undefined : parseSharedCmdline(cmdline.slice(0, 65_536));
      const path = shared?.base.slice(shared.base.indexOf(':') + 1);
      if (path?.startsWith('/')) basePaths.push(resolve(path));
    }
    out.push({ hostname: layout.hostname, basePaths: [...new Set(basePaths)] });
  }
  return out;
}

const inside = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);

/** The bases of `image` in the store (NAME and NAME@…, directories only), oldest name first. */
export async function listBases(
  imagesDir: string,
  image: string,
  users: readonly BaseUser[],
): Promise<StoredBase[]> {
  checkImageName(image);
  const current = currentBaseName(imagesDir, image);
  const entries = await readdir(imagesDir, { withFileTypes: true }).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  });
  if (entries.length > MAX_TREE_ENTRIES) {
    throw new BootTreeError('FILE_TOO_LARGE', `${imagesDir} has over ${MAX_TREE_ENTRIES} entries`);
  }
  const out: StoredBase[] = [];
  for (const entry of entries) {
    const name = entry.name;
    if (!entry.isDirectory() || !DIR_NAME.test(name)) continue;
    if (name !== image && !name.startsWith(`${image}@`)) continue;
    const dir = resolve(imagesDir, name);
    const usedBy = users
      .filter((user) => user.basePaths.some((path) => inside(path, dir)))
      .map((user) => user.hostname)
      .sort();
    out.push({ image, name, dir, rootDir: join(dir, 'root'), current: name === current, usedBy });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

export interface PruneOptions {
  imagesDir: string;
  /** The images whose bases are pruned (the manifest's, or the one named). */
  images: readonly string[];
  users: readonly BaseUser[];
  /** List what would be removed; remove nothing. */
  dryRun?: boolean;
}

export interface PruneResult {
  /** Bases removed (or, with dryRun, that would be). */
  removed: StoredBase[];
  /** Bases kept: the current one and those in use. */
  kept: StoredBase[];
  /** `.deleting` directories an interrupted earlier removal left, deleted now (none with dryRun). */
  finished: string[];
}

/**
 * Remove the bases of `images` that are neither current nor named by any node (see baseUsers). Nodes
 * still running on an old base use it until they reboot: prune after they did.
 */
export async function pruneBases(options: PruneOptions): Promise<PruneResult> {
  const removed: StoredBase[] = [];
  const kept: StoredBase[] = [];
  for (const image of options.images) {
    const bases = await listBases(options.imagesDir, image, options.users);
    const current = currentBaseName(options.imagesDir, image);
    if (current !== image && !bases.some((base) => base.current)) {
      // NAME.current names a base that is gone: which one nodes get next is unclear, so remove nothing.
      throw new BootTreeError(
        'NOT_FOUND',
        `image '${image}': its current base ${current} (${currentBaseFile(options.imagesDir, image)}) is missing: run \`bramble image update\` or re-add the image first`,
      );
    }
    for (const base of bases) {
      (base.current || base.usedBy.length > 0 ? kept : removed).push(base);
    }
  }
  if (options.dryRun) return { removed, kept, finished: [] };
  const finished = await finishDeletions(options.imagesDir, options.images);
  await removeDirs(
    options.imagesDir,
    removed.map((base) => base.name),
  );
  return { removed, kept, finished };
}

/**
 * Remove every base of `image` and its NAME.current (for removing the image). IN_USE (nothing removed)
 * when a node still names one of them. Returns the bases removed.
 */
export async function removeImageBases(
  imagesDir: string,
  image: string,
  users: readonly BaseUser[],
): Promise<StoredBase[]> {
  const bases = await listBases(imagesDir, image, users);
  const used = bases.filter((base) => base.usedBy.length > 0);
  if (used.length > 0) {
    throw new BootTreeError(
      'IN_USE',
      `image '${image}': ${used.map((base) => `${base.name} is used by ${base.usedBy.join(', ')}`).join('; ')}: remove or move those nodes first`,
    );
  }
  await finishDeletions(imagesDir, [image]);
  await removeDirs(
    imagesDir,
    bases.map((base) => base.name),
  );
  await rm(currentBaseFile(imagesDir, image), { force: true });
  return bases;
}

const deletingName = (name: string) => `.${name}${DELETING_SUFFIX}`;

/** Rename every directory to its `.deleting` name (all or none), then delete them. */
async function removeDirs(imagesDir: string, names: readonly string[]): Promise<void> {
  const renamed: string[] = [];
  try {
    for (const name of names) {
      await rename(join(imagesDir, name), join(imagesDir, deletingName(name)));
      renamed.push(name);
    }
  } catch (e) {
    for (const name of renamed.reverse()) {
      await rename(join(imagesDir, deletingName(name)), join(imagesDir, name)).catch(() => undefined);
    }
    throw new BootTreeError(
      'REMOVE_FAILED',
      `cannot move a base aside for deletion (nothing removed): ${String(e)}`,
      { cause: e },
    );
  }
  for (const name of names) await rm(join(imagesDir, deletingName(name)), { recursive: true, force: true });
}

/** Delete `.NAME….deleting` directories of the images left by an interrupted removal; returns their names. */
async function finishDeletions(imagesDir: string, images: readonly string[]): Promise<string[]> {
  const done: string[] = [];
  for (const entry of await readdir(imagesDir, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory() || !entry.name.endsWith(DELETING_SUFFIX)) continue;
    const name = entry.name.slice(1, -DELETING_SUFFIX.length);
    if (!DIR_NAME.test(name)) continue;
    if (!images.some((image) => name === image || name.startsWith(`${image}@`))) continue;
    if (!(await lstat(join(imagesDir, entry.name)))?.isDirectory()) continue;
    await rm(join(imagesDir, entry.name), { recursive: true, force: true });
    done.push(entry.name);
  }
  return done;
}

/**
 * The layouts with each shared-root node's `olderBasePaths`: the root of every other base its image has
 * in the store (found from the node's basePath, `<images>/NAME[@STAMP]/root`). Nodes running on an old
 * base keep it until they reboot, so NFS exports must keep serving it until `image prune` removes it.
 */
export async function withOlderBases<T extends { basePath?: string | undefined }>(
  layouts: readonly T[],
): Promise<(T & { olderBasePaths?: string[] })[]> {
  const byStore = new Map<string, Promise<StoredBase[]>>();
  return Promise.all(
    layouts.map(async (layout) => {
      if (!layout.basePath) return layout;
      const basePath = resolve(layout.basePath);
      const storeDir = dirname(basePath);
      const image = basename(storeDir).split('@')[0] ?? '';
      if (!DIR_NAME.test(basename(storeDir)) || !DIR_NAME.test(image)) return layout;
      const key = `${dirname(storeDir)}\0${image}`;
      let stored = byStore.get(key);
      if (!stored) {
        stored = listBases(dirname(storeDir), image, []);
        byStore.set(key, stored);
      }
      const olderBasePaths = (await stored).map((base) => base.rootDir).filter((path) => path !== basePath);
      return olderBasePaths.length > 0 ? { ...layout, olderBasePaths } : layout;
    }),
  );
}
