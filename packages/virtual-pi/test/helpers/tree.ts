import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PI_OS_FIRMWARE_SIZES } from '@bramble/testkit';

/** Deterministic pseudo-firmware bytes: content depends only on the name, so checksums are predictable. */
export function fakeBytes(name: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(name).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Boot files of a Raspberry Pi OS boot partition, with small sizes (names are what matters). */
export const BOOT_FILES: Record<string, number> = {
  ...PI_OS_FIRMWARE_SIZES,
  'kernel8.img': 120_000,
  'kernel_2712.img': 130_000,
  initramfs8: 60_000,
  initramfs_2712: 61_000,
};

export const CONFIG_TXT = [
  '# Raspberry Pi OS style config.txt',
  'dtoverlay=vc4-kms-v3d',
  'auto_initramfs=1',
  '[pi4]',
  'arm_boost=1',
  '[all]',
  'arm_64bit=1',
  '',
].join('\n');

export function cmdlineFor(nfsServer: string, host: string): string {
  return `console=serial0,115200 console=tty1 root=/dev/nfs nfsroot=${nfsServer}:/srv/bramble/nfs/${host},vers=3 rw ip=dhcp rootwait\n`;
}

export interface TreeOptions {
  /** Per-node directories (serials, MAC dirs or custom prefixes without '/'); [] = everything in the root. */
  dirs: string[];
  nfsServer?: string;
  config?: string;
  cmdline?: string;
  /** Files left out of every node dir (and the root), e.g. ['start4.elf']. */
  omit?: string[];
  /** Override file sizes (e.g. a realistic 9 MB kernel8.img for benchmarks). */
  sizes?: Record<string, number>;
}

export interface Tree {
  root: string;
  /** Content of every file by path relative to the root. */
  files: Map<string, Buffer>;
  cleanup(): Promise<void>;
}

/** A TFTP root like boot-tree lays it out: bootcode.bin in the root, a boot dir per node. */
export async function makeTftpTree(o: TreeOptions): Promise<Tree> {
  const root = await mkdtemp(join(tmpdir(), 'bramble-vpi-'));
  const files = new Map<string, Buffer>();
  const put = async (rel: string, data: Buffer) => {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), data);
    files.set(rel, data);
  };
  await put('bootcode.bin', fakeBytes('bootcode.bin', 52_000));
  const dirs = o.dirs.length ? o.dirs : [''];
  const first = new Map<string, string>(); // firmware files are identical in every node dir: hard-link them
  for (const d of dirs) {
    const p = d ? `${d}/` : '';
    for (const [name, size] of Object.entries({ ...BOOT_FILES, ...o.sizes })) {
      if (o.omit?.includes(name)) continue;
      const seen = first.get(name);
      if (seen) {
        await mkdir(dirname(join(root, p + name)), { recursive: true });
        await link(join(root, seen), join(root, p + name));
        files.set(p + name, files.get(seen)!);
        continue;
      }
      await put(p + name, fakeBytes(name, size));
      first.set(name, p + name);
    }
    if (!o.omit?.includes('config.txt')) await put(`${p}config.txt`, Buffer.from(o.config ?? CONFIG_TXT));
    if (!o.omit?.includes('cmdline.txt')) {
      await put(
        `${p}cmdline.txt`,
        Buffer.from(o.cmdline ?? cmdlineFor(o.nfsServer ?? '10.0.0.1', d || 'node')),
      );
    }
  }
  return { root, files, cleanup: () => rm(root, { recursive: true, force: true }) };
}
