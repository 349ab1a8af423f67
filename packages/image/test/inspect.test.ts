import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImage } from '../src/disk-image.js';
import { inspectImage, parseOsRelease } from '../src/inspect.js';
import { type BuiltDisk, buildPiDisk, compress, makeTempDir, removeDir } from './helpers/images.js';

let dir: string;
let disk: BuiltDisk;
beforeAll(async () => {
  dir = await makeTempDir('inspect');
  disk = await buildPiDisk(dir);
});
afterAll(async () => {
  await removeDir(dir);
});

describe('inspectImage', () => {
  it('reports partitions, labels, PARTUUIDs, file systems, boot files and the OS release', async () => {
    const r = await inspectImage(disk.path);
    expect(r).toMatchObject({ format: 'raw', table: 'mbr', diskId: '12345678', size: disk.size });
    expect(r.partitions).toHaveLength(2);
    expect(r.partitions[0]).toMatchObject({
      number: 1,
      type: '0c',
      fsType: 'fat32',
      label: 'bootfs',
      partuuid: '12345678-01',
      start: disk.partitions[0]?.start,
    });
    expect(r.partitions[1]).toMatchObject({
      number: 2,
      type: '83',
      fsType: 'ext4',
      label: 'rootfs',
      partuuid: '12345678-02',
      fsUuid: '0f0e0d0c-0b0a-4908-8706-050403020100',
    });
    expect(r.bootFiles).toEqual({
      partition: 1,
      bootcode: true,
      startElf: ['start.elf', 'start4.elf'],
      fixup: ['fixup.dat', 'fixup4.dat'],
      kernels: ['kernel8.img', 'kernel_2712.img'],
      configTxt: true,
      cmdlineTxt: true,
      cmdline:
        'console=serial0,115200 console=tty1 root=PARTUUID=12345678-02 rootfstype=ext4 fsck.repair=yes rootwait',
      dtbCount: 3,
      overlays: true,
      overlayCount: 2,
    });
    // /etc/os-release is a relative symlink into /usr/lib, resolved inside the image.
    expect(r.warnings).toEqual([]);
    expect(r.rootPartition).toBe(2);
    expect(r.osRelease).toMatchObject({
      ID: 'debian',
      VERSION_CODENAME: 'trixie',
      PRETTY_NAME: 'Debian GNU/Linux 13 (trixie)',
    });
  });

  it('gives the same answer for the .img.xz and the GPT variant', async () => {
    const raw = await inspectImage(disk.path);
    const xz = await inspectImage(await compress(disk.path, 'xz'));
    expect({ ...xz, path: '', format: 'raw' }).toEqual({ ...raw, path: '' });
    const gptDir = join(dir, 'gpt');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(gptDir);
    const gpt = await inspectImage((await buildPiDisk(gptDir, { table: 'gpt' })).path);
    expect(gpt.table).toBe('gpt');
    expect(gpt.partitions.map((p) => p.label)).toEqual(['bootfs', 'rootfs']);
    expect(gpt.partitions.map((p) => p.fsLabel)).toEqual(['bootfs', 'rootfs']);
    expect(gpt.bootFiles?.kernels).toEqual(raw.bootFiles?.kernels);
    expect(gpt.osRelease).toEqual(raw.osRelease);
  });

  it('opens partitions by label for both file systems', async () => {
    const img = await openImage(disk.path);
    try {
      const boot = await img.openFileSystem('bootfs');
      expect(boot.kind).toBe('fat');
      const cfg = await boot.lookup('/config.txt');
      expect((await boot.read(cfg, 0, cfg.stat.size)).toString()).toBe('[all]\narm_64bit=1\n');
      const root = await img.openFileSystem('ROOTFS');
      expect(root.kind).toBe('ext4');
      expect(root.label).toBe('rootfs');
    } finally {
      await img.close();
    }
  });
});

describe('parseOsRelease', () => {
  it('handles quotes, escapes and comments', () => {
    expect(parseOsRelease('# c\nID=debian\nNAME="Debian \\"GNU\\"/Linux"\nX=\'single\'\nbad line\n')).toEqual(
      {
        ID: 'debian',
        NAME: 'Debian "GNU"/Linux',
        X: 'single',
      },
    );
  });
});
