import { posix } from 'node:path';
import { type DiskImage, type OpenImageOptions, openImage } from './disk-image.js';
import { ImageError } from './errors.js';
import type { FileSystem, FsNode } from './filesystem.js';
import type { PartitionInfo, PartitionTableKind } from './partition/index.js';
import type { ImageFormat } from './source/detect.js';

/** Raspberry Pi firmware files found in the boot partition's root directory. */
export interface BootFiles {
  /** Partition number they were found in. */
  partition: number;
  /** bootcode.bin (Pi 1-3 second stage; absent on Pi 4/5 images is fine). */
  bootcode: boolean;
  startElf: string[];
  fixup: string[];
  /** kernel*.img */
  kernels: string[];
  configTxt: boolean;
  cmdlineTxt: boolean;
  /** Contents of cmdline.txt (trimmed), when present and under 4 KiB. */
  cmdline?: string;
  /** Number of *.dtb files in the root. */
  dtbCount: number;
  /** An overlays/ directory exists. */
  overlays: boolean;
  /** Number of *.dtbo files in overlays/. */
  overlayCount: number;
}

export interface ImageInspection {
  path: string;
  format: ImageFormat;
  /** Size of the (decompressed) disk in bytes. */
  size: number;
  table: PartitionTableKind;
  diskId?: string;
  partitions: PartitionInfo[];
  /** /etc/os-release (or /usr/lib/os-release) of the first ext partition holding one, parsed. */
  osRelease?: Record<string, string>;
  /** Number of the partition the OS release came from. */
  rootPartition?: number;
  bootFiles?: BootFiles;
  /** Problems found while looking (unreadable partitions and the like); inspection goes on past them. */
  warnings: string[];
}

/** Everything `bramble image inspect` shows: partitions, file systems, labels, PARTUUIDs, OS release, boot files. */
export async function inspectImage(path: string, opts: OpenImageOptions = {}): Promise<ImageInspection> {
  const img = await openImage(path, opts);
  try {
    return await inspectOpened(img);
  } finally {
    await img.close();
  }
}

/** Inspect an already opened image (does not close it). */
export async function inspectOpened(img: DiskImage): Promise<ImageInspection> {
  const result: ImageInspection = {
    path: img.path,
    format: img.format,
    size: img.source.size,
    table: img.table,
    ...(img.diskId !== undefined ? { diskId: img.diskId } : {}),
    partitions: img.partitions.map((p) => ({ ...p })),
    warnings: [],
  };
  for (const p of img.partitions) {
    if (p.fsType?.startsWith('fat') && result.bootFiles === undefined) {
      try {
        const fs = await img.openFileSystem(p.number);
        const bf = await bootFilesOf(fs, p.number);
        if (bf.startElf.length > 0 || bf.kernels.length > 0 || bf.configTxt || bf.bootcode)
          result.bootFiles = bf;
      } catch (e) {
        result.warnings.push(`partition ${p.number}: ${(e as Error).message}`);
      }
    }
    if (p.fsType?.startsWith('ext') && result.osRelease === undefined) {
      try {
        const fs = await img.openFileSystem(p.number, { allowDirty: true });
        const os = await readOsRelease(fs);
        if (os) {
          result.osRelease = os;
          result.rootPartition = p.number;
        }
      } catch (e) {
        result.warnings.push(`partition ${p.number}: ${(e as Error).message}`);
      }
    }
  }
  return result;
}

async function bootFilesOf(fs: FileSystem, partition: number): Promise<BootFiles> {
  const root = await fs.lookup('/');
  const entries = await fs.readdir(root);
  const files = entries.filter((e) => e.type === 'file').map((e) => e.name);
  const has = (n: string) => files.includes(n);
  const bf: BootFiles = {
    partition,
    bootcode: has('bootcode.bin'),
    startElf: files.filter((n) => /^start.*\.elf$/.test(n)).sort(),
    fixup: files.filter((n) => /^fixup.*\.dat$/.test(n)).sort(),
    kernels: files.filter((n) => /^kernel.*\.img$/.test(n)).sort(),
    configTxt: has('config.txt'),
    cmdlineTxt: has('cmdline.txt'),
    dtbCount: files.filter((n) => n.endsWith('.dtb')).length,
    overlays: false,
    overlayCount: 0,
  };
  if (bf.cmdlineTxt) {
    const node = await fs.lookup('/cmdline.txt');
    if (node.stat.size <= 4096) bf.cmdline = (await fs.read(node, 0, node.stat.size)).toString('utf8').trim();
  }
  const ov = entries.find((e) => e.name === 'overlays' && e.type === 'directory');
  if (ov) {
    bf.overlays = true;
    const ovNode = await fs.lookup('/overlays');
    bf.overlayCount = (await fs.readdir(ovNode)).filter((e) => e.name.endsWith('.dtbo')).length;
  }
  return bf;
}

/** Resolve a path following symlinks (at most 16 hops), as open(2) would inside the image. */
async function resolve(fs: FileSystem, path: string): Promise<FsNode> {
  let p = path;
  for (let hops = 0; hops < 16; hops++) {
    const node = await fs.lookup(p);
    if (node.stat.type !== 'symlink') return node;
    const target = await fs.readlink(node);
    p = target.startsWith('/') ? target : posix.join(posix.dirname(p), target);
  }
  throw new ImageError('CORRUPT_FILESYSTEM', `too many symlinks resolving ${path}`);
}

/** /etc/os-release, falling back to /usr/lib/os-release (os-release(5)); undefined when neither exists. */
export async function readOsRelease(fs: FileSystem): Promise<Record<string, string> | undefined> {
  for (const candidate of ['/etc/os-release', '/usr/lib/os-release']) {
    let node: FsNode;
    try {
      node = await resolve(fs, candidate);
    } catch (e) {
      if (e instanceof ImageError && (e.code === 'NOT_FOUND' || e.code === 'NOT_A_DIRECTORY')) continue;
      throw e;
    }
    if (node.stat.type !== 'file') continue;
    const text = (await fs.read(node, 0, Math.min(node.stat.size, 64 * 1024))).toString('utf8');
    return parseOsRelease(text);
  }
  return undefined;
}

/** Parse os-release(5) text: KEY=value lines, values optionally quoted with shell escapes. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2] ?? '';
    const q = v[0];
    if ((q === '"' || q === "'") && v.endsWith(q) && v.length >= 2) {
      v = v.slice(1, -1);
      if (q === '"') v = v.replace(/\\(["\\`$])/g, '$1');
    }
    out[m[1] as string] = v;
  }
  return out;
}
