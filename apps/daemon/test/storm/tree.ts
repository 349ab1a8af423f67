/** The TFTP tree of a storm: bootcode.bin in the root and every node's boot files (hard links of one copy). */
import { link, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PI_OS_FIRMWARE_SIZES } from '@bramble/testkit';

const CONFIG_TXT = 'dtoverlay=vc4-kms-v3d\nauto_initramfs=1\n[all]\narm_64bit=1\n';

export interface StormSizes {
  kernel: number;
  initramfs: number;
}

/** Write the tree under `root` for `serials`; every node gets every model's files. */
export async function writeStormTree(
  root: string,
  serials: readonly string[],
  sizes: StormSizes,
): Promise<void> {
  const files: Record<string, number> = {
    ...PI_OS_FIRMWARE_SIZES,
    'kernel8.img': sizes.kernel,
    'kernel_2712.img': sizes.kernel,
    initramfs8: sizes.initramfs,
    initramfs_2712: sizes.initramfs,
  };
  const shared = join(root, '.shared');
  await mkdir(join(shared, 'overlays'), { recursive: true });
  for (const [name, size] of Object.entries(files)) await writeFile(join(shared, name), filler(name, size));
  await writeFile(join(root, 'bootcode.bin'), filler('bootcode.bin', 52_000));
  for (const serial of serials) {
    const dir = join(root, serial);
    await mkdir(join(dir, 'overlays'), { recursive: true });
    for (const name of Object.keys(files)) await link(join(shared, name), join(dir, name));
    await writeFile(join(dir, 'config.txt'), CONFIG_TXT);
    await writeFile(
      join(dir, 'cmdline.txt'),
      `console=serial0,115200 root=/dev/nfs nfsroot=10.0.0.1:/srv/nfs/${serial},vers=3 rw ip=dhcp rootwait\n`,
    );
  }
}

function filler(name: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  const seed = Buffer.from(name);
  for (let offset = 0; offset < size; offset += seed.length) seed.copy(out, offset);
  return out;
}
