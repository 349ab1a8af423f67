import { NodeTree } from '../node-tree.js';
import { maskUnit } from './systemd.js';

/**
 * First-boot and SD-card services that break or make no sense on an NFS root:
 * - resize2fs_once (Stretch–Bookworm, SysV script resizing the SD root), rpi-resize / rpi-resize-swap-file
 *   (Trixie, ConditionFirstBoot growfs of a block device);
 * - dphys-swapfile (swap file on the root: swap over NFS fails).
 */
export const NFS_ROOT_MASKED_UNITS = [
  'resize2fs_once.service',
  'rpi-resize.service',
  'rpi-resize-swap-file.service',
  'dphys-swapfile.service',
] as const;

/** Mask the services above (symlink to /dev/null) and remove resize2fs_once's SysV rc links. */
export async function disableSdCardServices(root: NodeTree | string): Promise<string[]> {
  const tree = await NodeTree.from(root);
  const changed: string[] = [];
  for (const u of NFS_ROOT_MASKED_UNITS) {
    if (await maskUnit(tree, u)) changed.push(`masked ${u}`);
  }
  for (const d of await tree.readdir('/etc')) {
    if (!/^rc[0-6S]\.d$/.test(d.name)) continue;
    for (const f of await tree.readdir(`/etc/${d.name}`)) {
      if (
        /^[SK]\d\d(resize2fs_once|dphys-swapfile)$/.test(f.name) &&
        (await tree.remove(`/etc/${d.name}/${f.name}`))
      ) {
        changed.push(`removed /etc/${d.name}/${f.name}`);
      }
    }
  }
  return changed;
}
