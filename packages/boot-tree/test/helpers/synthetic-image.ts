import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

export type Release = 'stretch' | 'buster' | 'bullseye' | 'bookworm' | 'trixie';

/**
 * A small extracted Raspberry Pi OS image as @bramble/image would produce it: `<dir>/boot` (the FAT boot
 * partition: firmware, dtbs, overlays, kernels, the release's real cmdline.txt/config.txt) and `<dir>/root`
 * (os-release, passwd/shadow/group of a pi-gen image with the uid-1000 first user, hosts, hostname, the
 * release's real fstab, systemd units and first-boot services).
 */
export async function makeImage(
  dir: string,
  release: Release,
): Promise<{ bootDir: string; rootDir: string }> {
  const boot = join(dir, 'boot');
  const root = join(dir, 'root');
  const fx = (f: string) => readFileSync(join(FIXTURES, release, f));
  await mkdir(join(boot, 'overlays'), { recursive: true });
  const bin = (n: number) => randomBytes(n);
  const bootFiles: Record<string, Buffer | string> = {
    'bootcode.bin': bin(52_000),
    'start.elf': bin(3000),
    'fixup.dat': bin(700),
    'start4.elf': bin(3000),
    'fixup4.dat': bin(500),
    'bcm2710-rpi-3-b-plus.dtb': bin(300),
    'bcm2711-rpi-4-b.dtb': bin(300),
    'bcm2712-rpi-5-b.dtb': bin(300),
    'kernel8.img': bin(9000),
    'kernel_2712.img': bin(9000),
    initramfs8: bin(4000),
    initramfs_2712: bin(4000),
    'overlays/vc4-kms-v3d.dtbo': bin(200),
    'overlays/README': 'overlays\n',
    'cmdline.txt': fx('cmdline.txt'),
    'config.txt': fx('config.txt'),
    'issue.txt': `Raspberry Pi reference (${release})\n`,
  };
  if (release !== 'bookworm' && release !== 'trixie') {
    // 32-bit releases: config.txt sets no arm_64bit, so a Pi 3 / Pi 4 boots kernel7.img / kernel7l.img.
    Object.assign(bootFiles, {
      'kernel.img': bin(8000),
      'kernel7.img': bin(8000),
      'kernel7l.img': bin(8000),
    });
  }
  for (const [f, c] of Object.entries(bootFiles)) await writeFile(join(boot, f), c);

  const files: Record<string, string | Buffer> = {
    'etc/os-release': fx('os-release'),
    'etc/fstab': fx('fstab'),
    'etc/hostname': 'raspberrypi\n',
    'etc/hosts':
      '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n\n127.0.1.1\t\traspberrypi\n',
    'etc/passwd':
      'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\npi:x:1000:1000:,,,:/home/pi:/bin/bash\n',
    'etc/shadow':
      'root:*:19500:0:99999:7:::\ndaemon:*:19500:0:99999:7:::\nsshd:*:19500:0:99999:7:::\npi:!:19500:0:99999:7:::\n',
    'etc/group': 'root:x:0:\nadm:x:4:pi\nsudo:x:27:pi\nusers:x:100:pi\nshadow:x:42:\npi:x:1000:\n',
    'etc/gshadow': 'root:*::\nadm:*::pi\nsudo:*::pi\nusers:*::pi\nshadow:*::\npi:!::\n',
    'etc/skel/.bashrc': '# ~/.bashrc\n',
    'home/pi/.bashrc': '# ~/.bashrc\n',
    'etc/sudoers.d/010_pi-nopasswd': 'pi ALL=(ALL) NOPASSWD: ALL\n',
    'etc/ssh/sshd_config': 'Include /etc/ssh/sshd_config.d/*.conf\n',
    'etc/ssh/sshd_config.d/rename_user.conf': 'Banner /usr/share/userconf-pi/sshd_banner\n',
    'lib/systemd/system/ssh.service': '[Unit]\nDescription=OpenBSD Secure Shell server\n',
    'lib/systemd/system/getty@.service': '[Unit]\nDescription=Getty on %I\n',
    'lib/systemd/system/userconfig.service': '[Unit]\nDescription=User configuration dialog\n',
    'lib/systemd/system/regenerate_ssh_host_keys.service': '[Unit]\nDescription=Regenerate SSH host keys\n',
    'lib/systemd/system/dphys-swapfile.service': '[Unit]\nDescription=dphys-swapfile\n',
    'etc/init.d/resize2fs_once': '#!/bin/sh\nresize2fs "$(findmnt / -o source -n)"\n',
    'usr/bin/passwd': bin(100),
  };
  if (release === 'trixie') {
    files['etc/cloud/cloud.cfg'] = 'datasource_list: [ NoCloud, None ]\n';
    files['lib/systemd/system/rpi-resize.service'] = '[Unit]\nConditionFirstBoot=yes\n';
  }
  for (const [f, c] of Object.entries(files)) {
    await mkdir(join(root, f, '..'), { recursive: true });
    await writeFile(join(root, f), c);
  }
  await chmod(join(root, 'etc/shadow'), 0o640);
  await chmod(join(root, 'etc/gshadow'), 0o640);
  await chmod(join(root, 'etc/sudoers.d/010_pi-nopasswd'), 0o440);
  await chmod(join(root, 'usr/bin/passwd'), 0o4755);
  await chmod(join(root, 'etc/init.d/resize2fs_once'), 0o755);
  if (process.getuid?.() === 0) {
    await chown(join(root, 'etc/shadow'), 0, 42);
    await chown(join(root, 'home/pi'), 1000, 1000);
    await chown(join(root, 'home/pi/.bashrc'), 1000, 1000);
  }
  await mkdir(join(root, 'etc/rc3.d'), { recursive: true });
  await symlink('../init.d/resize2fs_once', join(root, 'etc/rc3.d/S01resize2fs_once'));
  await mkdir(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  for (const u of ['userconfig.service', 'regenerate_ssh_host_keys.service', 'dphys-swapfile.service']) {
    await symlink(`/lib/systemd/system/${u}`, join(root, 'etc/systemd/system/multi-user.target.wants', u));
  }
  await mkdir(join(root, 'boot', ...(['bookworm', 'trixie'].includes(release) ? ['firmware'] : [])), {
    recursive: true,
  });
  return { bootDir: boot, rootDir: root };
}
