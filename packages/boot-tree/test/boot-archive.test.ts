/**
 * Issue 17: the archive Bramble appends to an image's initramfs for shared roots, read back with
 * Debian's cpio: the boot script and the one overlay script, the overlay/loop/ext4 modules of each
 * kernel of the base with their dependencies first (built-in ones left out, hostile modules.dep rows
 * ignored), the initramfs names from config.txt, and the append itself (pristine initramfs + padding +
 * archive, idempotent).
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendArchive,
  bootArchive,
  initramfsNames,
  installBootArchive,
  moduleName,
} from '../src/shared-root/boot-archive.js';
import { BOOT_SCRIPT, OVERLAY_SCRIPT } from '../src/shared-root/initramfs.js';

let work: string;
let base: string;
const KVER = '6.1.0-test-arm64';

const write = async (path: string, data: string | Buffer) => {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, data);
};

beforeAll(async () => {
  requireTool('cpio');
  work = await mkdtemp(join(tmpdir(), 'bt-boot-archive-'));
  base = join(work, 'base');
  // Merged /usr, as Debian and Raspberry Pi OS have it: /lib -> usr/lib.
  await mkdir(join(base, 'usr/lib/modules'), { recursive: true });
  await symlink('usr/lib', join(base, 'lib'));
  const mods = join(base, 'usr/lib/modules', KVER);
  await write(
    join(mods, 'modules.dep'),
    [
      'kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko',
      'kernel/lib/crc16.ko:',
      'kernel/fs/mbcache.ko:',
      'kernel/fs/jbd2/jbd2.ko: kernel/lib/crc16.ko',
      'kernel/fs/overlayfs/overlay.ko.xz:',
      'kernel/net/evil.ko: ../../../../etc/shadow.ko',
      'garbage without colon',
      '',
    ].join('\n'),
  );
  await write(join(mods, 'modules.builtin'), 'kernel/drivers/block/loop.ko\n');
  for (const rel of [
    'kernel/fs/ext4/ext4.ko',
    'kernel/lib/crc16.ko',
    'kernel/fs/mbcache.ko',
    'kernel/fs/jbd2/jbd2.ko',
    'kernel/fs/overlayfs/overlay.ko.xz',
  ])
    await write(join(mods, rel), `module ${rel}\n`);
  // A second kernel without overlayfs at all: left out.
  await write(join(base, 'usr/lib/modules/5.10.0-old/modules.dep'), 'kernel/lib/crc16.ko:\n');
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const extract = async (archive: Buffer) => {
  const dir = await mkdtemp(join(work, 'x-'));
  // -d: scripts/ exists in every initramfs-tools initramfs, so the archive has no entry for it.
  await execa('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames', '-D', dir], { input: archive });
  return dir;
};

describe('bootArchive', () => {
  it('holds the scripts and, per qualifying kernel, the modules in load order', async () => {
    const { archive, kernels } = await bootArchive(base);
    expect(kernels).toEqual([KVER]);
    const listed = (await execa('cpio', ['-t', '--quiet'], { input: archive })).stdout.split('\n');
    expect(listed).toEqual([
      'bramble',
      'bramble/bin',
      'bramble/bin/insmod',
      'bramble/modules',
      `bramble/modules/${KVER}`,
      `bramble/modules/${KVER}/overlay.ko.xz`,
      `bramble/modules/${KVER}/crc16.ko`,
      `bramble/modules/${KVER}/mbcache.ko`,
      `bramble/modules/${KVER}/jbd2.ko`,
      `bramble/modules/${KVER}/ext4.ko`,
      `bramble/modules/${KVER}/load`,
      'scripts/bramble',
      'scripts/bramble-overlay',
    ]);
    const dir = await extract(archive);
    // Dependencies before what needs them (crc16 before jbd2 before ext4); loop is built in.
    expect(await readFile(join(dir, `bramble/modules/${KVER}/load`), 'utf8')).toBe(
      'overlay.ko.xz\ncrc16.ko\nmbcache.ko\njbd2.ko\next4.ko\n',
    );
    expect(await readFile(join(dir, `bramble/modules/${KVER}/overlay.ko.xz`), 'utf8')).toBe(
      'module kernel/fs/overlayfs/overlay.ko.xz\n',
    );
    expect(await readFile(join(dir, 'scripts/bramble'), 'utf8')).toBe(BOOT_SCRIPT);
    expect(await readFile(join(dir, 'scripts/bramble-overlay'), 'utf8')).toBe(OVERLAY_SCRIPT);
    expect((await execa('sh', ['-n', join(dir, 'scripts/bramble')])).exitCode).toBe(0);
  });

  it('a base with no qualifying kernel gives the scripts alone and no kernels', async () => {
    const bare = join(work, 'bare');
    await write(join(bare, 'lib/modules/6.0/modules.dep'), 'kernel/fs/ext4/ext4.ko:\n');
    const { archive, kernels } = await bootArchive(bare);
    expect(kernels).toEqual([]);
    const listed = (await execa('cpio', ['-t', '--quiet'], { input: archive })).stdout.split('\n');
    expect(listed).toContain('scripts/bramble');
    expect(listed.some((p) => p.endsWith('.ko'))).toBe(false);
  });

  it('hostile base: module symlinks and `..` resolve inside the base, never to the host', async () => {
    const hostile = join(work, 'hostile');
    const mods = join(hostile, 'lib/modules/6.1.0-evil');
    await write(join(mods, 'modules.dep'), 'kernel/fs/overlayfs/overlay.ko:\n');
    await write(join(mods, 'modules.builtin'), 'kernel/drivers/block/loop.ko\nkernel/fs/ext4/ext4.ko\n');
    await write(join(hostile, 'etc/hostname'), 'the base hostname\n');
    await mkdir(join(mods, 'kernel/fs/overlayfs'), { recursive: true });
    // An absolute link to the host's /etc/hostname, climbing with `..`: the node's own /etc/hostname.
    await symlink('/../../../../../etc/hostname', join(mods, 'kernel/fs/overlayfs/overlay.ko'));
    const { archive } = await bootArchive(hostile);
    const dir = await extract(archive);
    expect(await readFile(join(dir, 'bramble/modules/6.1.0-evil/overlay.ko'), 'utf8')).toBe(
      'the base hostname\n',
    );
  });

  it('module names as the kernel has them', () => {
    expect(moduleName('kernel/fs/overlayfs/overlay.ko.zst')).toBe('overlay');
    expect(moduleName('kernel/drivers/net/virtio-net.ko')).toBe('virtio_net');
  });
});

describe('initramfs files and the append', () => {
  let boot: string;
  let shared: string;
  let pristine: Buffer;

  beforeAll(async () => {
    boot = join(work, 'boot');
    shared = join(work, 'shared');
    const first = await execa('cpio', ['-o', '-H', 'newc', '--quiet'], {
      input: 'config.txt\n',
      cwd: await mkdir(boot, { recursive: true }).then(() => boot),
      encoding: 'buffer',
      reject: false,
    });
    pristine = gzipSync(Buffer.concat([Buffer.from(first.stdout as Uint8Array), Buffer.from('x')]));
    await write(
      join(boot, 'config.txt'),
      '[all]\ninitramfs initramfs8 followkernel\n[pi5]\nauto_initramfs=1\n',
    );
    await write(join(boot, 'initramfs8'), pristine);
    await write(join(boot, 'initramfs_2712'), pristine);
    await mkdir(shared, { recursive: true });
    await write(join(shared, 'initramfs8'), pristine);
  });

  it('names what config.txt and auto_initramfs load, if present', async () => {
    expect(await initramfsNames(boot)).toEqual(['initramfs8', 'initramfs_2712']);
    const empty = join(work, 'boot-empty');
    await write(join(empty, 'config.txt'), 'initramfs ../../etc/passwd followkernel\n');
    expect(await initramfsNames(empty)).toEqual([]);
  });

  it('appends the archive after zero padding to 4 bytes, once', async () => {
    const first = await installBootArchive({ bootDir: boot, sharedDir: shared, baseRoot: base });
    expect(first).toEqual({
      initramfs: ['initramfs8', 'initramfs_2712'],
      written: ['initramfs8', 'initramfs_2712'],
      kernels: [KVER],
    });
    const { archive } = await bootArchive(base);
    const written = await readFile(join(shared, 'initramfs8'));
    expect(written.equals(appendArchive(pristine, archive))).toBe(true);
    expect(written.subarray(0, pristine.length).equals(pristine)).toBe(true);
    const padding = written.subarray(pristine.length, written.length - archive.length);
    expect(padding.length).toBe((4 - (pristine.length % 4)) % 4);
    expect(padding.every((b) => b === 0)).toBe(true);
    expect((pristine.length + padding.length) % 4).toBe(0);
    const again = await installBootArchive({ bootDir: boot, sharedDir: shared, baseRoot: base });
    expect(again.written).toEqual([]);
  });
});
