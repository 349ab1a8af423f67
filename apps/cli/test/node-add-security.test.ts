/**
 * Issues 12 and 15 through `bramble node add` on real disk images (sfdisk, mkfs.vfat + mtools,
 * mkfs.ext4 -d): a hostile root never writes outside the state dir, bad flags are usage errors, and a
 * failed node add leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { bramble, packPiImage, tempDir } from './helpers.js';

const MiB = 1024 * 1024;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhvc3RpbGUtaW1hZ2UtdGVzdC1rZXktMDAwMDAwMDA admin@laptop';

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(root, rel, '..'), { recursive: true });
    await writeFile(join(root, rel), text);
  }
}

/**
 * A Raspberry Pi OS–shaped disk image: MBR, p1 FAT16 boot (mkfs.vfat + mcopy), p2 ext4 root made with
 * mkfs.ext4 -d from a staged Bookworm-like tree that `mutate` may make hostile.
 */
async function buildImage(dir: string, mutate: (root: string) => Promise<void>): Promise<string> {
  const boot = join(dir, 'boot');
  const root = join(dir, 'root');
  await writeTree(boot, {
    'cmdline.txt':
      'console=serial0,115200 console=tty1 root=PARTUUID=12345678-02 rootfstype=ext4 fsck.repair=yes rootwait\n',
    'config.txt': '[all]\narm_64bit=1\n',
    'bootcode.bin': 'bootcode',
    'start4.elf': 'start4',
    'kernel8.img': 'kernel',
  });
  await writeTree(root, {
    'etc/os-release':
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n',
    'etc/passwd': 'root:x:0:0:root:/root:/bin/bash\npi:x:1000:1000:,,,:/home/pi:/bin/bash\n',
    'etc/shadow': 'root:*:19500:0:99999:7:::\npi:!:19500:0:99999:7:::\n',
    'etc/group': 'root:x:0:\nsudo:x:27:pi\npi:x:1000:\n',
    'etc/hostname': 'raspberrypi\n',
    'etc/hosts': '127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n',
    'etc/fstab': 'proc /proc proc defaults 0 0\nPARTUUID=12345678-01 /boot/firmware vfat defaults 0 2\n',
    'home/pi/.bashrc': '# bashrc\n',
    'lib/systemd/system/ssh.service': '[Unit]\n',
  });
  await mutate(root);
  for (const tool of ['mkfs.vfat', 'mcopy', 'mkfs.ext4', 'sfdisk']) requireTool(tool);
  return packPiImage(dir, boot, root, 'evil.img');
}

/** path mode content-hash of every entry under dir (symlinks not followed). */
async function digest(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const rel of (await readdir(dir, { recursive: true })).map(String).sort()) {
    const st = await lstat(join(dir, rel));
    const content = st.isSymbolicLink()
      ? await readlink(join(dir, rel))
      : st.isFile()
        ? createHash('sha256')
            .update(await readFile(join(dir, rel)))
            .digest('hex')
        : 'dir';
    out.push(`${rel} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${content}`);
  }
  return out;
}

let sentinel: string;
let sentinelBefore: string[];

beforeAll(async () => {
  sentinel = await tempDir('sentinel');
  await writeTree(sentinel, { passwd: 'host passwd\n', 'ssh/keep': 'host\n' });
  sentinelBefore = await digest(sentinel);
});

const add = (cwd: string, extra: string[]) =>
  bramble(
    [
      'node',
      'add',
      'n1',
      '--serial',
      '7a1b2c3d',
      '--image',
      './evil.img',
      '--nfs-server',
      '127.0.0.1',
      '--state',
      './state',
      ...extra,
    ],
    { cwd, timeout: 180_000 },
  );

describe('bramble node add on a hostile image', () => {
  it("etc -> /<host dir>: everything is written in the node's own /<host dir>; the host dir is untouched", async () => {
    const dir = await tempDir('evil-etc');
    await buildImage(dir, async (root) => {
      await mkdir(join(root, sentinel, '..'), { recursive: true });
      await rename(join(root, 'etc'), join(root, sentinel));
      await symlink(sentinel, join(root, 'etc'));
    });
    const r = await add(dir, ['--user', 'alice', '--ssh-key', KEY]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await digest(sentinel)).toEqual(sentinelBefore);
    const nodeEtc = join(dir, 'state/nfs/n1', sentinel);
    expect(await readFile(join(nodeEtc, 'hostname'), 'utf8')).toBe('n1\n');
    expect(await readFile(join(nodeEtc, 'passwd'), 'utf8')).toContain('alice:x:1000:1000:');
    expect(await readFile(join(dir, 'state/nfs/n1/home/alice/.ssh/authorized_keys'), 'utf8')).toBe(
      `${KEY}\n`,
    );
    // nothing but the manifest, the image and the state dir in the working directory
    expect(
      (await readdir(dir)).filter((n) => !['boot', 'root', 'boot.fat', 'root.ext4'].includes(n)).sort(),
    ).toEqual(['bramble.yaml', 'evil.img', 'state']);
  }, 240_000);

  it('home/pi -> /<host dir> with --user pi --ssh-key: authorized_keys stays in the node tree', async () => {
    const dir = await tempDir('evil-home');
    await buildImage(dir, async (root) => {
      await rename(join(root, 'home/pi'), join(root, 'home/pi-real'));
      await symlink(sentinel, join(root, 'home/pi'));
    });
    const r = await add(dir, ['--user', 'pi', '--ssh-key', KEY]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await digest(sentinel)).toEqual(sentinelBefore);
    expect(await readFile(join(dir, 'state/nfs/n1', sentinel, '.ssh/authorized_keys'), 'utf8')).toBe(
      `${KEY}\n`,
    );
  }, 240_000);

  it('passwd home /../../..<host dir>: [UNSAFE_IMAGE], exit 1, and nothing of this run is left', async () => {
    const dir = await tempDir('evil-passwd');
    await buildImage(dir, async (root) => {
      await writeFile(
        join(root, 'etc/passwd'),
        `root:x:0:0:root:/root:/bin/bash\npi:x:1000:1000:,,,:/${'../'.repeat(8)}${sentinel.slice(1)}:/bin/bash\n`,
      );
    });
    const r = await add(dir, ['--user', 'alice']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('[UNSAFE_IMAGE]');
    expect(await digest(sentinel)).toEqual(sentinelBefore);
    expect(existsSync(join(dir, 'state'))).toBe(false);
    expect(existsSync(join(dir, 'bramble.yaml'))).toBe(false);
  }, 240_000);
});

describe('bramble node add: flags and all-or-nothing (issue 15)', () => {
  it('--ssh-key without --user is a usage error (exit 2) naming the flag; nothing is written', async () => {
    const dir = await tempDir('sshkey-nouser');
    const r = await bramble(
      [
        'node',
        'add',
        'n1',
        '--serial',
        '7a1b2c3d',
        '--image',
        './x.img',
        '--nfs-server',
        '127.0.0.1',
        '--ssh-key',
        KEY,
      ],
      { cwd: dir },
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--ssh-key needs --user/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('--user pi on an image without /etc/passwd fails and leaves no TFTP dir, NFS root or manifest', async () => {
    const dir = await tempDir('no-passwd');
    await buildImage(dir, async (root) => {
      await writeFile(join(root, 'etc/passwd'), '');
    });
    const r = await add(dir, ['--user', 'pi']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('[NOT_FOUND]');
    expect(existsSync(join(dir, 'state'))).toBe(false);
    expect(existsSync(join(dir, 'bramble.yaml'))).toBe(false);

    // With an existing state dir and manifest (a first node added fine), a failing second node leaves
    // the first one and the state as they were.
    const ok = await buildImage(join(dir, 'good'), async () => {});
    await rename(ok, join(dir, 'good.img'));
    const first = await bramble(
      [
        'node',
        'add',
        'n0',
        '--serial',
        '0a0b0c0d',
        '--image',
        './good.img',
        '--nfs-server',
        '127.0.0.1',
        '--state',
        './state',
      ],
      { cwd: dir, timeout: 180_000 },
    );
    expect(first.exitCode, first.stderr).toBe(0);
    const manifest = await readFile(join(dir, 'bramble.yaml'), 'utf8');
    const tftpBefore = (await readdir(join(dir, 'state/tftp'))).sort();
    const again = await add(dir, ['--user', 'pi']);
    expect(again.exitCode).toBe(1);
    expect(await readFile(join(dir, 'bramble.yaml'), 'utf8')).toBe(manifest);
    expect((await readdir(join(dir, 'state/tftp'))).sort()).toEqual(tftpBefore);
    expect(await readdir(join(dir, 'state/nfs'))).toEqual(['n0']);
    expect(existsSync(join(dir, 'state/layouts/n1.json'))).toBe(false);
    expect(existsSync(join(dir, 'state/images/evil'))).toBe(false);
  }, 300_000);
});

describe('bramble node add --scratch (issue 15)', () => {
  it('makes a sparse ext4 scratch file in the node root, mounts it through fstab and records it in the manifest', async () => {
    const dir = await tempDir('scratch');
    await buildImage(dir, async () => {});
    const bad = await add(dir, ['--scratch', '1M']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--scratch: .*64M to 16T/);
    expect(existsSync(join(dir, 'state'))).toBe(false);
    const r = await add(dir, ['--scratch', '128M:/var/lib/rancher']);
    expect(r.exitCode, r.stderr).toBe(0);
    const file = join(dir, 'state/nfs/n1/var/lib/bramble/scratch.ext4');
    const fsck = await execa(requireTool('e2fsck'), ['-fn', file], { reject: false });
    expect(fsck.exitCode, fsck.stdout).toBe(0);
    expect((await lstat(file)).size).toBe(128 * MiB);
    expect(await readFile(join(dir, 'state/nfs/n1/etc/fstab'), 'utf8')).toContain(
      '/var/lib/bramble/scratch.ext4  /var/lib/rancher  ext4  loop,noatime,nofail  0  0',
    );
    expect(await readFile(join(dir, 'bramble.yaml'), 'utf8')).toMatch(
      /scratch:\n\s+size: 128M\n\s+path: \/var\/lib\/rancher/,
    );
    const again = await bramble(['node', 'provision', 'n1'], { cwd: dir, timeout: 120_000 });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain('n1: 0 change(s)');
  }, 240_000);
});
