/**
 * Shared test-image builders for @bramble/image tests (FAT, ext4, partition tables, compression).
 *
 * NOTE for the ext4/extract colleague: use these rather than ad-hoc builders. Typical use:
 *   const dir = await makeTempDir('ext4');
 *   const root = await buildExt4(join(dir, 'root.ext4'), { sizeMiB: 64, label: 'rootfs', fromDir: tree });
 *   const boot = await buildFat(join(dir, 'boot.fat'), { fatBits: 32, sizeMiB: 40, label: 'bootfs', fromDir: bootTree });
 *   const disk = await buildDisk(join(dir, 'disk.img'), { table: 'mbr', diskId: '12345678', partitions: [
 *     { image: boot, type: 'c' }, { image: root, type: '83' } ] });
 *   // disk.partitions[i].start is the byte offset of partition i+1
 *   await rm(dir, { recursive: true, force: true });
 * Every builder shells out to the real tools (sfdisk, mkfs.vfat, mtools, mkfs.ext4, xz, gzip, zip),
 * found with requireTool() so a missing peer fails the test instead of skipping it.
 * Owner: image part 1 (FAT/partition). Add new builders at the end; do not change existing signatures.
 */

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';

/** Environment for mtools: no geometry checks, UTF-8 names. */
export const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TZ: 'UTC' } as const;

export async function makeTempDir(tag: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `bramble-image-${tag}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface FatOptions {
  fatBits: 12 | 16 | 32;
  sizeMiB: number;
  label?: string;
  /** Sectors per cluster (mkfs.vfat -s). */
  sectorsPerCluster?: number;
  /** Logical sector size (mkfs.vfat -S), default 512. */
  sectorSize?: number;
  /** Copy this directory's contents into the root with `mcopy -s -p -m`. */
  fromDir?: string;
}

/** Create a FAT file-system image file with mkfs.vfat and fill it with mtools. Returns `path`. */
export async function buildFat(path: string, o: FatOptions): Promise<string> {
  const mkfs = requireTool('mkfs.vfat');
  await rm(path, { force: true });
  await open(path, 'w').then((fh) => fh.close());
  await truncate(path, o.sizeMiB * 1024 * 1024);
  const args = ['-F', String(o.fatBits)];
  if (o.sectorsPerCluster !== undefined) args.push('-s', String(o.sectorsPerCluster));
  if (o.sectorSize !== undefined) args.push('-S', String(o.sectorSize));
  if (o.label !== undefined) args.push('-n', o.label);
  args.push('-i', '1234abcd', path);
  await execa(mkfs, args);
  if (o.fromDir !== undefined) await mcopyInto(path, 0, o.fromDir);
  return path;
}

/** `mcopy -s -p -m` every entry of `fromDir` into the root of the FAT at byte `offset` of `image`. */
export async function mcopyInto(image: string, offset: number, fromDir: string): Promise<void> {
  const mcopy = requireTool('mcopy');
  const { readdir } = await import('node:fs/promises');
  const entries = await readdir(fromDir);
  if (entries.length === 0) return;
  await execa(
    mcopy,
    ['-s', '-p', '-m', '-i', `${image}@@${offset}`, ...entries.map((e) => join(fromDir, e)), '::/'],
    {
      env: MTOOLS_ENV,
    },
  );
}

export interface Ext4Options {
  sizeMiB: number;
  label?: string;
  fromDir?: string;
  /** mkfs.ext4 -O value, e.g. '^metadata_csum,^64bit' or 'inline_data'. */
  features?: string;
  /** mkfs -t (ext2/ext3/ext4). Default ext4. */
  fsType?: 'ext2' | 'ext3' | 'ext4';
  blockSize?: number;
  inodeSize?: number;
  extraArgs?: string[];
}

/** Create an ext2/3/4 image with `mkfs.<type> -d fromDir`. Returns `path`. */
export async function buildExt4(path: string, o: Ext4Options): Promise<string> {
  const mkfs = requireTool('mke2fs');
  await rm(path, { force: true });
  const args = [
    '-q',
    '-F',
    '-t',
    o.fsType ?? 'ext4',
    '-U',
    '0f0e0d0c-0b0a-4908-8706-050403020100',
    '-E',
    'root_owner=0:0',
  ];
  if (o.label !== undefined) args.push('-L', o.label);
  if (o.features !== undefined) args.push('-O', o.features);
  if (o.blockSize !== undefined) args.push('-b', String(o.blockSize));
  if (o.inodeSize !== undefined) args.push('-I', String(o.inodeSize));
  if (o.fromDir !== undefined) args.push('-d', o.fromDir);
  args.push(...(o.extraArgs ?? []), path, `${o.sizeMiB}M`);
  await execa(mkfs, args, { env: { E2FSPROGS_FAKE_TIME: '' } });
  return path;
}

export interface DiskPartitionSpec {
  /** File-system image to place in the partition (or omit and give sizeMiB for an empty one). */
  image?: string;
  sizeMiB?: number;
  /** sfdisk type: MBR hex ('c', '83', '5' extended handled by `logical`) or a GPT type GUID / alias ('L', 'U'). */
  type?: string;
  /** GPT partition name. */
  name?: string;
  /** MBR only: put this partition inside an extended partition (as a logical one). */
  logical?: boolean;
}

export interface BuiltDisk {
  path: string;
  size: number;
  table: 'mbr' | 'gpt';
  /** As given (MBR: 8 hex digits; GPT: disk GUID). */
  diskId: string;
  /** Byte offset and size of each partition as numbered by Linux (1-based; logical ones from 5). */
  partitions: { number: number; start: number; size: number }[];
}

const MiB = 1024 * 1024;

/**
 * Lay out a disk image: 1 MiB aligned partitions, table written by sfdisk, file-system images
 * copied in at their offsets (zero chunks skipped, so the result stays sparse).
 */
export async function buildDisk(
  path: string,
  o: { table: 'mbr' | 'gpt'; diskId?: string; partitions: DiskPartitionSpec[] },
): Promise<BuiltDisk> {
  const sfdisk = requireTool('sfdisk');
  const sizes: number[] = [];
  for (const p of o.partitions) {
    const bytes = p.image !== undefined ? (await stat(p.image)).size : (p.sizeMiB ?? 1) * MiB;
    sizes.push(Math.ceil(bytes / MiB) * MiB);
  }
  const diskId = o.diskId ?? (o.table === 'mbr' ? '12345678' : '01234567-89ab-4cde-8f01-23456789abcd');
  // Layout: primaries from 1 MiB; logical ones each get 1 MiB of EBR room before them.
  const lines: string[] = [
    o.table === 'mbr' ? 'label: dos' : 'label: gpt',
    `label-id: ${o.table === 'mbr' ? `0x${diskId}` : diskId}`,
    'unit: sectors',
    '',
  ];
  let cursor = MiB;
  const placed: { start: number; size: number; logical: boolean }[] = [];
  const logicals = o.partitions.filter((p) => p.logical);
  o.partitions.forEach((p, i) => {
    if (p.logical) return;
    const size = sizes[i] ?? MiB;
    const fields = [`start=${cursor / 512}`, `size=${size / 512}`];
    if (p.type !== undefined) fields.push(`type=${p.type}`);
    if (p.name !== undefined && o.table === 'gpt') fields.push(`name="${p.name}"`);
    lines.push(fields.join(', '));
    placed.push({ start: cursor, size, logical: false });
    cursor += size;
  });
  const logicalPlaced: { start: number; size: number }[] = [];
  if (logicals.length > 0) {
    if (o.table !== 'mbr') throw new Error('logical partitions need an MBR');
    const extStart = cursor;
    let lc = extStart;
    o.partitions.forEach((p, i) => {
      if (!p.logical) return;
      lc += MiB;
      const size = sizes[i] ?? MiB;
      logicalPlaced.push({ start: lc, size });
      lc += size;
    });
    lines.push(`start=${extStart / 512}, size=${(lc - extStart) / 512}, type=5`);
    o.partitions.forEach((p, i) => {
      if (!p.logical) return;
      const lp = logicalPlaced[logicals.indexOf(p)];
      if (!lp) return;
      const fields = [`start=${lp.start / 512}`, `size=${sizes[i]! / 512}`];
      if (p.type !== undefined) fields.push(`type=${p.type}`);
      lines.push(fields.join(', '));
    });
    cursor = lc;
  }
  const total = cursor + MiB; // room for the GPT backup
  await rm(path, { force: true });
  await open(path, 'w').then((fh) => fh.close());
  await truncate(path, total);
  await execa(sfdisk, ['--no-reread', '--no-tell-kernel', '-q', path], { input: `${lines.join('\n')}\n` });
  const partitions: BuiltDisk['partitions'] = [];
  let primaryNo = 0;
  let logicalNo = 4;
  let pi = 0;
  let li = 0;
  for (const p of o.partitions) {
    if (p.logical) {
      const lp = logicalPlaced[li++]!;
      partitions.push({ number: ++logicalNo, start: lp.start, size: lp.size });
      if (p.image !== undefined) await copyInto(p.image, path, lp.start);
    } else {
      const pp = placed[pi++]!;
      partitions.push({ number: ++primaryNo, start: pp.start, size: pp.size });
      if (p.image !== undefined) await copyInto(p.image, path, pp.start);
    }
  }
  partitions.sort((a, b) => a.number - b.number);
  return { path, size: total, table: o.table, diskId, partitions };
}

/** Copy `src` into `dest` at byte `offset`, skipping all-zero 64 KiB chunks (keeps holes). */
export async function copyInto(src: string, dest: string, offset: number): Promise<void> {
  const out = await open(dest, 'r+');
  try {
    let pos = offset;
    for await (const chunk of createReadStream(src, { highWaterMark: 64 * 1024 })) {
      const buf = chunk as Buffer;
      if (!isZero(buf)) await out.write(buf, 0, buf.length, pos);
      pos += buf.length;
    }
  } finally {
    await out.close();
  }
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Compress `path` to `<path>.xz` / `.gz`, or store it in `<dir>/<name>.zip` (one entry). Returns the new path. */
export async function compress(path: string, format: 'xz' | 'gz' | 'zip', out?: string): Promise<string> {
  if (format === 'xz') {
    const xz = requireTool('xz');
    const dest = out ?? `${path}.xz`;
    // Threaded xz with a small block size writes several blocks, like the Raspberry Pi OS images.
    await execa(xz, ['-T2', '--block-size=1MiB', '-1', '-k', '-c', path], { stdout: { file: dest } });
    return dest;
  }
  if (format === 'gz') {
    const dest = out ?? `${path}.gz`;
    await pipeline(createReadStream(path), createGzip({ level: 1 }), createWriteStream(dest));
    return dest;
  }
  const zip = requireTool('zip');
  const dest = out ?? `${path.replace(/\.img$/, '')}.zip`;
  await rm(dest, { force: true });
  await execa(zip, ['-q', '-1', '-j', dest, path], { cwd: dirname(path) });
  return dest;
}

/** `mdir -/ -b` listing (recursive bare paths, '::/a/b', directories end in '/') of the FAT at `offset`. */
export async function mdirBare(image: string, offset = 0): Promise<string[]> {
  const mdir = requireTool('mdir');
  const r = await execa(mdir, ['-i', `${image}@@${offset}`, '-/', '-b', '::/'], { env: MTOOLS_ENV });
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('::/'))
    .map((l) => l.slice(2));
}

/** Copy the whole FAT at `offset` out with `mcopy -s -p -m -n` into `toDir`. */
export async function mcopyOut(image: string, offset: number, toDir: string): Promise<void> {
  const mcopy = requireTool('mcopy');
  await execa(mcopy, ['-s', '-p', '-m', '-n', '-i', `${image}@@${offset}`, '::/*', toDir], {
    env: MTOOLS_ENV,
  });
}

/** Run an mtools program (mattrib, mdel, mmd, ...) on the FAT at byte `offset` of `image`. */
export async function mtools(
  program: string,
  image: string,
  offset: number,
  args: string[],
): Promise<string> {
  const r = await execa(requireTool(program), ['-i', `${image}@@${offset}`, ...args], { env: MTOOLS_ENV });
  return r.stdout;
}

/** sha256 hex of a buffer. */
export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Deterministic pseudo-random bytes (xorshift), so test data never depends on the run. */
export function pseudoRandom(length: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Write a tree of files: keys are relative paths ('a/b.txt'; a trailing '/' makes an empty directory). */
export async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<string> {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, rel);
    if (rel.endsWith('/')) {
      await mkdir(p, { recursive: true });
      continue;
    }
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, content);
  }
  return root;
}

/** The Raspberry Pi OS-like boot tree used by inspect tests (small stand-ins for the firmware files). */
export const PI_BOOT_FILES: Record<string, string | Buffer> = {
  'bootcode.bin': pseudoRandom(52_000, 3),
  'start4.elf': pseudoRandom(70_000, 4),
  'start.elf': pseudoRandom(30_000, 5),
  'fixup4.dat': 'fixup4',
  'fixup.dat': 'fixup',
  'kernel8.img': pseudoRandom(200_000, 6),
  'kernel_2712.img': pseudoRandom(100_000, 7),
  'bcm2711-rpi-4-b.dtb': 'dtb4',
  'bcm2712-rpi-5-b.dtb': 'dtb5',
  'bcm2710-rpi-3-b.dtb': 'dtb3',
  'config.txt': '[all]\narm_64bit=1\n',
  'cmdline.txt':
    'console=serial0,115200 console=tty1 root=PARTUUID=12345678-02 rootfstype=ext4 fsck.repair=yes rootwait\n',
  'overlays/vc4-kms-v3d.dtbo': 'o1',
  'overlays/disable-bt.dtbo': 'o2',
  'overlays/README': 'readme',
};

/**
 * A small Raspberry Pi OS-like disk: MBR (disk id 12345678), p1 FAT32 'bootfs' with PI_BOOT_FILES,
 * p2 ext4 'rootfs' from `rootTree` (default: /etc/os-release -> ../usr/lib/os-release, /etc/hostname).
 */
export async function buildPiDisk(
  dir: string,
  o: { rootTree?: Record<string, string | Buffer>; rootSizeMiB?: number; table?: 'mbr' | 'gpt' } = {},
): Promise<BuiltDisk> {
  const bootDir = await writeTree(join(dir, 'boot-tree'), PI_BOOT_FILES);
  const rootDir = join(dir, 'root-tree');
  await writeTree(
    rootDir,
    o.rootTree ?? {
      'usr/lib/os-release':
        'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\nVERSION="13 (trixie)"\nVERSION_CODENAME=trixie\nID=debian\n',
      'etc/hostname': 'raspberrypi\n',
    },
  );
  if (o.rootTree === undefined) await symlink('../usr/lib/os-release', join(rootDir, 'etc/os-release'));
  const boot = await buildFat(join(dir, 'boot.fat'), {
    fatBits: 32,
    sizeMiB: 34,
    label: 'bootfs',
    sectorsPerCluster: 1,
    fromDir: bootDir,
  });
  const root = await buildExt4(join(dir, 'root.ext4'), {
    sizeMiB: o.rootSizeMiB ?? 8,
    label: 'rootfs',
    fromDir: rootDir,
  });
  const table = o.table ?? 'mbr';
  return buildDisk(join(dir, 'disk.img'), {
    table,
    partitions: [
      { image: boot, type: table === 'mbr' ? 'c' : 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', name: 'bootfs' },
      { image: root, type: table === 'mbr' ? '83' : '0FC63DAF-8483-4772-8E79-3D69D8477DE4', name: 'rootfs' },
    ],
  });
}
