import { NodeTree } from '../node-tree.js';

const UNIT_DIRS = ['/usr/lib/systemd/system', '/lib/systemd/system'];

/** Absolute (in-root) path of a unit file shipped by the image, or undefined. */
export async function findUnit(root: NodeTree | string, unit: string): Promise<string | undefined> {
  const tree = await NodeTree.from(root);
  for (const d of UNIT_DIRS) {
    if (await tree.exists(`${d}/${unit}`)) return `${d}/${unit}`;
  }
  return undefined;
}

/** `systemctl enable` offline: a `<target>.wants/<unit>` symlink in /etc/systemd/system. */
export async function enableUnit(root: NodeTree | string, unit: string, target: string): Promise<boolean> {
  const tree = await NodeTree.from(root);
  const src = (await findUnit(tree, unit)) ?? `/lib/systemd/system/${unit}`;
  return tree.symlink(src, `/etc/systemd/system/${target}.wants/${unit}`);
}

/** `systemctl mask` offline: /etc/systemd/system/<unit> → /dev/null. */
export async function maskUnit(root: NodeTree | string, unit: string): Promise<boolean> {
  const tree = await NodeTree.from(root);
  return tree.symlink('/dev/null', `/etc/systemd/system/${unit}`);
}

/** `systemctl disable` offline: remove every `*.wants/<unit>` / `*.requires/<unit>` link in /etc/systemd/system. */
export async function disableUnit(root: NodeTree | string, unit: string): Promise<boolean> {
  const tree = await NodeTree.from(root);
  const base = '/etc/systemd/system';
  let changed = false;
  for (const e of await tree.readdir(base)) {
    if (e.name.endsWith('.wants') || e.name.endsWith('.requires')) {
      changed = (await tree.remove(`${base}/${e.name}/${unit}`)) || changed;
    }
  }
  return changed;
}
