import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { removeIfExists } from '../fs-util.js';
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
export async function disableSdCardServices(rootDir: string): Promise<string[]> {
  const changed: string[] = [];
  for (const u of NFS_ROOT_MASKED_UNITS) {
    if (await maskUnit(rootDir, u)) changed.push(`masked ${u}`);
  }
  const etc = join(rootDir, 'etc');
  for (const d of await readdir(etc).catch(() => [] as string[])) {
    if (!/^rc[0-6S]\.d$/.test(d)) continue;
    for (const f of await readdir(join(etc, d)).catch(() => [] as string[])) {
      if (/^[SK]\d\d(resize2fs_once|dphys-swapfile)$/.test(f) && (await removeIfExists(join(etc, d, f)))) {
        changed.push(`removed /etc/${d}/${f}`);
      }
    }
  }
  return changed;
}
