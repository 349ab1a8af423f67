import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureSymlink, exists, removeIfExists } from '../fs-util.js';

const UNIT_DIRS = ['usr/lib/systemd/system', 'lib/systemd/system'];

/** Absolute (in-root) path of a unit file shipped by the image, or undefined. */
export async function findUnit(rootDir: string, unit: string): Promise<string | undefined> {
  for (const d of UNIT_DIRS) {
    if (await exists(join(rootDir, d, unit))) return `/${d}/${unit}`;
  }
  return undefined;
}

/** `systemctl enable` offline: a `<target>.wants/<unit>` symlink in /etc/systemd/system. */
export async function enableUnit(rootDir: string, unit: string, target: string): Promise<boolean> {
  const src = (await findUnit(rootDir, unit)) ?? `/lib/systemd/system/${unit}`;
  return ensureSymlink(src, join(rootDir, 'etc/systemd/system', `${target}.wants`, unit));
}

/** `systemctl mask` offline: /etc/systemd/system/<unit> → /dev/null. */
export async function maskUnit(rootDir: string, unit: string): Promise<boolean> {
  return ensureSymlink('/dev/null', join(rootDir, 'etc/systemd/system', unit));
}

/** `systemctl disable` offline: remove every `*.wants/<unit>` / `*.requires/<unit>` link in /etc/systemd/system. */
export async function disableUnit(rootDir: string, unit: string): Promise<boolean> {
  const base = join(rootDir, 'etc/systemd/system');
  let changed = false;
  const entries = await readdir(base).catch(() => [] as string[]);
  for (const e of entries) {
    if (e.endsWith('.wants') || e.endsWith('.requires')) {
      changed = (await removeIfExists(join(base, e, unit))) || changed;
    }
  }
  return changed;
}
