import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type Options } from 'execa';
import { afterAll } from 'vitest';

export const bin = join(import.meta.dirname, '..', 'dist', 'index.js');
export const sampleImage = join(import.meta.dirname, '..', 'fixtures', 'sample-bookworm.img.xz');

const created: string[] = [];

// Every temporary directory a test file made is removed when the file's tests end
// (BRAMBLE_KEEP_TMP=1 keeps them for a post-mortem).
afterAll(async () => {
  if (process.env.BRAMBLE_KEEP_TMP === '1') return;
  await Promise.all(created.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

export async function tempDir(tag: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `bramble-cli-${tag}-`));
  created.push(d);
  await chmod(d, 0o755);
  return d;
}

export interface RunResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** Run the built binary; never throws on a non-zero exit. */
export async function bramble(args: readonly string[], opts: Options = {}): Promise<RunResult> {
  const r = await execa('node', [bin, ...args], {
    reject: false,
    timeout: 120_000,
    stdin: 'ignore',
    ...opts,
  });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** A Raspberry-Pi-OS-shaped root (bookworm, users root and pi) for buildPiImage: `motd` marks the image, `passwdExtra` adds passwd lines. */
export function piOsRoot(motd: string, passwdExtra = ''): Record<string, string> {
  return {
    'etc/os-release':
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n',
    'etc/passwd': `root:x:0:0:root:/root:/bin/bash\npi:x:1000:1000:,,,:/home/pi:/bin/bash\n${passwdExtra}`,
    'etc/shadow': 'root:*:19500:0:99999:7:::\npi:!:19500:0:99999:7:::\n',
    'etc/group': 'root:x:0:\nsudo:x:27:pi\npi:x:1000:\n',
    'etc/hostname': 'raspberrypi\n',
    'etc/hosts': '127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n',
    'etc/fstab': 'proc /proc proc defaults 0 0\nPARTUUID=12345678-01 /boot/firmware vfat defaults 0 2\n',
    'etc/motd': motd,
    'lib/systemd/system/ssh.service': '[Unit]\n',
  };
}

/**
 * A small Raspberry Pi OS–shaped disk image built with the real tools: MBR (sfdisk), p1 FAT16 boot
 * (mkfs.vfat + mcopy), p2 ext4 root (mkfs.ext4 -d) from `rootFiles`. Returns the image path.
 */
export async function buildPiImage(dir: string, rootFiles: Record<string, string>): Promise<string> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const write = async (root: string, files: Record<string, string>) => {
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(join(root, rel, '..'), { recursive: true });
      await writeFile(join(root, rel), text);
    }
  };
  const boot = join(dir, 'boot');
  const root = join(dir, 'root');
  await write(boot, {
    'cmdline.txt':
      'console=serial0,115200 console=tty1 root=PARTUUID=12345678-02 rootfstype=ext4 fsck.repair=yes rootwait\n',
    'config.txt': '[all]\narm_64bit=1\n',
    'bootcode.bin': 'bootcode',
    'start4.elf': 'start4',
    'kernel8.img': 'kernel',
  });
  await write(root, rootFiles);
  return packPiImage(dir, boot, root, 'disk.img');
}

/**
 * Pack a boot directory and a root directory into an MBR image shaped like Raspberry Pi OS: p1 FAT16
 * (mkfs.vfat + mcopy), p2 ext4 (mkfs.ext4 -d). Returns `<dir>/<name>`.
 */
export async function packPiImage(dir: string, boot: string, root: string, name: string): Promise<string> {
  const { readdir, truncate, writeFile } = await import('node:fs/promises');
  const fat = join(dir, 'boot.fat');
  await execa('mkfs.vfat', ['-F', '16', '-n', 'BOOTFS', '-C', fat, String(16 * 1024)]);
  const names = await readdir(boot);
  await execa('mcopy', ['-i', fat, ...names.map((n) => join(boot, n)), '::'], {
    env: { MTOOLS_SKIP_CHECK: '1' },
  });
  const ext4 = join(dir, 'root.ext4');
  await execa('mkfs.ext4', ['-q', '-F', '-E', 'root_owner=0:0', '-d', root, ext4, '16M']);
  const img = join(dir, name);
  await writeFile(img, '');
  await truncate(img, 34 * 1024 * 1024);
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', img], {
    input:
      'label: dos\nlabel-id: 0x12345678\nstart=2048, size=32768, type=c\nstart=34816, size=32768, type=83\n',
  });
  for (const [file, sector] of [
    [fat, 2048],
    [ext4, 34816],
  ] as const) {
    await execa('dd', [
      `if=${file}`,
      `of=${img}`,
      'bs=512',
      `seek=${sector}`,
      'conv=notrunc,sparse',
      'status=none',
    ]);
  }
  return img;
}
