import {
  appendFile,
  lstat,
  mkdtemp,
  readFile,
  readlink,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkNodes,
  formatProblem,
  type NodeLayout,
  provisionNode,
  resolveNodeLayout,
} from '../src/index.js';
import { makeImage } from './helpers/synthetic-image.js';

let work: string;
let tftpRoot: string;
let nfsRoot: string;
let bookworm: { name: string; bootDir: string; rootDir: string };
let stretch: { name: string; bootDir: string; rootDir: string };
let trixie: { name: string; bootDir: string; rootDir: string };
let userKey: string;
const layouts: NodeLayout[] = [];

const read = (p: string) => readFile(p, 'utf8');

beforeAll(async () => {
  requireTool('ssh-keygen');
  requireTool('openssl');
  requireTool('cp');
  work = await mkdtemp(join(tmpdir(), 'bt-prov-'));
  tftpRoot = join(work, 'tftp');
  nfsRoot = join(work, 'nfs');
  bookworm = { name: 'bookworm-lite', ...(await makeImage(join(work, 'img-bookworm'), 'bookworm')) };
  stretch = { name: 'stretch-lite', ...(await makeImage(join(work, 'img-stretch'), 'stretch')) };
  trixie = { name: 'trixie-lite', ...(await makeImage(join(work, 'img-trixie'), 'trixie')) };
  await execa('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'admin@laptop',
    '-f',
    join(work, 'userkey'),
  ]);
  userKey = (await read(join(work, 'userkey.pub'))).trim();

  layouts.push(
    await provisionNode({
      node: {
        hostname: 'node1',
        serial: '10000000D9780558',
        image: 'bookworm-lite',
        model: 'pi4',
        address: '127.0.0.1',
        user: 'alice',
        password: 'correct horse',
        sshKeys: [userKey],
      },
      image: bookworm,
      tftpRoot,
      nfsRoot,
      nfsServer: '127.0.0.1',
    }),
    await provisionNode({
      node: { hostname: 'node2', mac: 'DC:A6:32:01:36:C2', image: 'bookworm-lite', model: 'pi5' },
      image: bookworm,
      tftpRoot,
      nfsRoot,
      nfsServer: '127.0.0.1',
      hostKeyTypes: ['ed25519'],
    }),
    await provisionNode({
      node: { hostname: 'old3', serial: '0660cd37', image: 'stretch-lite', model: 'pi3b+' },
      image: stretch,
      tftpRoot,
      nfsRoot,
      nfsServer: '127.0.0.1',
      hostKeyTypes: ['ed25519'],
    }),
    await provisionNode({
      node: {
        hostname: 'new4',
        serial: 'abcdef01',
        image: 'trixie-lite',
        user: 'bob',
        passwordHash:
          '$6$saltsalt$Yv5vWk1X7s0pXjqU1kq4tH0b3Dq8H1b3sZ0q7n3m2o1p0q9r8s7t6u5v4w3x2y1z0a9b8c7d6e5f4g3h2i1j0k.',
        sshKeys: [userKey],
      },
      image: trixie,
      tftpRoot,
      nfsRoot,
      nfsServer: '127.0.0.1',
      userMode: 'userconf',
      hostKeyTypes: ['ed25519'],
    }),
  );
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('TFTP layout', () => {
  it('puts bootcode.bin at the root and one shared copy of each image under .images', async () => {
    // The first image provides the one bootcode.bin at the root; later images keep it.
    const bc = await readFile(join(tftpRoot, 'bootcode.bin'));
    expect(bc.equals(await readFile(join(bookworm.bootDir, 'bootcode.bin')))).toBe(true);
    expect((await stat(join(tftpRoot, '.images/bookworm-lite/start4.elf'))).isFile()).toBe(true);
    expect(layouts.map((l) => l.tftpDirName)).toEqual([
      'd9780558',
      'dc-a6-32-01-36-c2',
      '0660cd37',
      'abcdef01',
    ]);
  });

  it('shares image boot files by hard link; cmdline.txt/config.txt/ssh are per-node real files', async () => {
    const shared = join(tftpRoot, '.images/bookworm-lite');
    for (const dir of ['d9780558', 'dc-a6-32-01-36-c2']) {
      for (const f of ['start4.elf', 'kernel8.img', 'overlays/vc4-kms-v3d.dtbo', 'bcm2712-rpi-5-b.dtb']) {
        const a = await lstat(join(tftpRoot, dir, f));
        const b = await lstat(join(shared, f));
        expect(a.ino, `${dir}/${f}`).toBe(b.ino);
      }
      for (const f of ['cmdline.txt', 'config.txt']) {
        const a = await lstat(join(tftpRoot, dir, f));
        expect(a.isFile()).toBe(true);
        expect(a.ino).not.toBe((await lstat(join(shared, f))).ino);
        expect(a.nlink).toBe(1);
      }
      expect((await lstat(join(tftpRoot, dir, 'ssh'))).size).toBe(0);
    }
  });

  it('writes the release-aware cmdline for each node', async () => {
    expect(await read(join(tftpRoot, 'd9780558/cmdline.txt'))).toBe(
      `console=serial0,115200 console=tty1 quiet root=/dev/nfs nfsroot=127.0.0.1:${nfsRoot}/node1,vers=3 rw ip=dhcp rootwait\n`,
    );
    expect(await read(join(tftpRoot, '0660cd37/cmdline.txt'))).toBe(
      `dwc_otg.lpm_enable=0 console=serial0,115200 console=tty1 elevator=deadline quiet root=/dev/nfs nfsroot=127.0.0.1:${nfsRoot}/old3,vers=4.1 rw ip=dhcp rootwait\n`,
    );
    expect(await read(join(tftpRoot, 'd9780558/config.txt'))).toBe(
      await read(join(bookworm.bootDir, 'config.txt')),
    );
  });
});

describe('NFS root personalisation', () => {
  const root = (h: string) => join(nfsRoot, h);

  it('hostname, hosts and fstab', async () => {
    expect(await read(join(root('node1'), 'etc/hostname'))).toBe('node1\n');
    expect(await read(join(root('node1'), 'etc/hosts'))).toMatch(/\n127\.0\.1\.1\tnode1\n$/);
    expect(await read(join(root('node1'), 'etc/fstab'))).toBe(
      `proc            /proc           proc    defaults          0       0\n# bramble: boot directory over NFS\n127.0.0.1:${tftpRoot}/d9780558  /boot/firmware  nfs  defaults,vers=3,nolock,noatime,nofail  0  0\n`,
    );
    expect(await read(join(root('old3'), 'etc/fstab'))).toContain(
      `127.0.0.1:${tftpRoot}/0660cd37  /boot  nfs  defaults,vers=4.1,noatime,nofail  0  0`,
    );
    expect(await read(join(root('node2'), 'etc/hostname'))).toBe('node2\n');
  });

  it('bakes the user: uid-1000 first user renamed, SHA-512 hash of the password, rename wizard cancelled', async () => {
    const r = root('node1');
    const passwd = await read(join(r, 'etc/passwd'));
    expect(passwd).toContain('alice:x:1000:1000:,,,:/home/alice:/bin/bash\n');
    expect(passwd).not.toMatch(/^pi:/m);
    expect(await read(join(r, 'etc/group'))).toContain('sudo:x:27:alice\n');
    expect(await read(join(r, 'etc/sudoers.d/010_pi-nopasswd'))).toBe('alice ALL=(ALL) NOPASSWD: ALL\n');
    const shadowLine = (await read(join(r, 'etc/shadow'))).split('\n').find((l) => l.startsWith('alice:'))!;
    const hash = shadowLine.split(':')[1]!;
    expect(hash).toMatch(/^\$6\$/);
    const salt = hash.split('$')[2]!;
    const again = await execa('openssl', ['passwd', '-6', '-salt', salt, 'correct horse']);
    expect(again.stdout.trim()).toBe(hash);
    const st = await stat(join(r, 'etc/shadow'));
    expect(st.mode & 0o777).toBe(0o640);
    if (isRoot()) expect(st.gid).toBe(42);
    expect((await stat(join(r, 'home/alice/.bashrc'))).isFile()).toBe(true);
    await expect(
      lstat(join(r, 'etc/systemd/system/multi-user.target.wants/userconfig.service')),
    ).rejects.toThrow();
    await expect(lstat(join(r, 'etc/ssh/sshd_config.d/rename_user.conf'))).rejects.toThrow();
  });

  it('authorized_keys owned by the user uid from the root passwd, modes 700/600', async () => {
    const dir = join(root('node1'), 'home/alice/.ssh');
    expect(await read(join(dir, 'authorized_keys'))).toBe(`${userKey}\n`);
    const d = await stat(dir);
    const f = await stat(join(dir, 'authorized_keys'));
    expect(d.mode & 0o777).toBe(0o700);
    expect(f.mode & 0o777).toBe(0o600);
    if (isRoot()) {
      expect([d.uid, d.gid, f.uid, f.gid]).toEqual([1000, 1000, 1000, 1000]);
    }
  });

  it('SSH enabled and per-node host keys', async () => {
    const r = root('node1');
    expect(await readlink(join(r, 'etc/systemd/system/multi-user.target.wants/ssh.service'))).toBe(
      '/lib/systemd/system/ssh.service',
    );
    for (const t of ['ed25519', 'ecdsa', 'rsa']) {
      const k = join(r, `etc/ssh/ssh_host_${t}_key`);
      expect((await stat(k)).mode & 0o777).toBe(0o600);
      const fp = await execa('ssh-keygen', ['-l', '-f', `${k}.pub`]);
      expect(fp.stdout).toContain('root@node1');
    }
    const k1 = await read(join(root('node1'), 'etc/ssh/ssh_host_ed25519_key.pub'));
    const k2 = await read(join(root('node2'), 'etc/ssh/ssh_host_ed25519_key.pub'));
    expect(k1).not.toBe(k2);
    expect(await readlink(join(r, 'etc/systemd/system/regenerate_ssh_host_keys.service'))).toBe('/dev/null');
  });

  it('first-boot resize and SD swap services disabled; setuid kept by the clone', async () => {
    const r = root('node2');
    for (const u of ['resize2fs_once.service', 'dphys-swapfile.service', 'rpi-resize.service']) {
      expect(await readlink(join(r, 'etc/systemd/system', u))).toBe('/dev/null');
    }
    await expect(lstat(join(r, 'etc/rc3.d/S01resize2fs_once'))).rejects.toThrow();
    expect((await stat(join(r, 'usr/bin/passwd'))).mode & 0o7777).toBe(0o4755);
  });

  it('trixie: userconf.txt and cloud-init seed in the boot directory', async () => {
    const dir = join(tftpRoot, 'abcdef01');
    expect(await read(join(dir, 'userconf.txt'))).toMatch(/^bob:\$6\$saltsalt\$/);
    const meta = await read(join(dir, 'meta-data'));
    expect(meta).toContain('instance-id: bramble-new4');
    const ud = await read(join(dir, 'user-data'));
    expect(ud.startsWith('#cloud-config\n')).toBe(true);
    expect(ud).toContain('hostname: new4');
    expect(ud).toContain(userKey);
    expect(await read(join(root('new4'), 'etc/cloud/cloud.cfg.d/99-bramble-nfsroot.cfg'))).toContain(
      'config: disabled',
    );
  });
});

describe('idempotence and checks', () => {
  it('re-running provisioning changes nothing and keeps host keys', async () => {
    const before = await read(join(nfsRoot, 'node1/etc/ssh/ssh_host_ed25519_key'));
    const again = await provisionNode({
      node: {
        hostname: 'node1',
        serial: '10000000D9780558',
        image: 'bookworm-lite',
        model: 'pi4',
        address: '127.0.0.1',
        user: 'alice',
        password: 'correct horse',
        sshKeys: [userKey],
      },
      image: bookworm,
      tftpRoot,
      nfsRoot,
      nfsServer: '127.0.0.1',
    });
    expect(again.changes).toEqual([]);
    expect(JSON.stringify(again)).not.toContain('correct horse');
    expect(await read(join(nfsRoot, 'node1/etc/ssh/ssh_host_ed25519_key'))).toBe(before);
    expect((await read(join(nfsRoot, 'node1/etc/passwd'))).match(/^alice:/gm)).toHaveLength(1);
    expect((await read(join(nfsRoot, 'node1/etc/fstab'))).match(/bramble/g)).toHaveLength(1);
  });

  it('checkNodes: a good cluster has no problems (a MAC-named directory only warns about TFTP_PREFIX=2)', async () => {
    const problems = await checkNodes(layouts, {
      exportedPaths: layouts.flatMap((l) => [l.rootPath, l.bootPath]),
    });
    expect(problems.map(formatProblem)).toEqual([
      'warning node2: the node directory is named by MAC (dc-a6-32-01-36-c2); the Pi only asks for it with TFTP_PREFIX=2 — fix: set TFTP_PREFIX=2 in the bootloader EEPROM config (rpi-eeprom-config --edit), or use the serial',
      'warning node2: no user configured: bookworm images have no usable default login (the first user is locked until userconf.txt or the first-boot wizard sets one) — fix: set user and password/passwordHash (and sshKeys) in the node spec',
    ]);
    // the same layout can be rebuilt from the manifest without provisioning
    const again = await resolveNodeLayout({
      node: layouts[0]!.node,
      image: bookworm,
      tftpRoot,
      nfsRoot,
      nfsServer: '127.0.0.1',
    });
    expect({ ...again, changes: layouts[0]!.changes }).toEqual(layouts[0]);
  });

  it('checkNodes finds a missing kernel, SD lines, wrong NFS version, unexported root and duplicates', async () => {
    const n2 = layouts[1]!;
    await unlink(join(n2.tftpDir, 'kernel_2712.img'));
    await unlink(join(n2.tftpDir, 'kernel8.img'));
    await appendFile(
      join(n2.rootPath, 'etc/fstab'),
      'PARTUUID=4e639091-02  /  ext4  defaults,noatime  0  1\n',
    );
    const cmd = await read(join(layouts[0]!.tftpDir, 'cmdline.txt'));
    await writeFile(join(layouts[0]!.tftpDir, 'cmdline.txt'), cmd.replace('vers=3', 'vers=4.1,proto=tcp'));
    const dupe = { ...layouts[2]!, hostname: 'node1' };
    const problems = await checkNodes([layouts[0]!, n2, dupe], { exportedPaths: [layouts[0]!.rootPath] });
    const codes = problems
      .filter((p) => p.severity === 'error')
      .map((p) => `${p.node}:${p.code}`)
      .sort();
    expect(codes).toEqual(
      [
        'node1:NFS_VERSION_INITRAMFS',
        'node1:NFS_PROTO_INITRAMFS',
        'node2:NO_KERNEL',
        'node2:FSTAB_SD_CARD',
        'node2:NFSROOT_NOT_EXPORTED',
        'node1:NFSROOT_NOT_EXPORTED',
        'node1:HOSTNAME_MISMATCH',
        'node1:DUPLICATE_HOSTNAME',
      ].sort(),
    );
    for (const p of problems) expect(formatProblem(p)).toMatch(/ — fix: \S/);
  });
});

describe('other modes and bad input', () => {
  it('symlink link mode, locked user without password, existing user keeps its uid', async () => {
    const l = await provisionNode({
      node: { hostname: 'sym5', serial: '12345678', image: 'stretch-lite', user: 'pi', sshKeys: [userKey] },
      image: stretch,
      tftpRoot,
      nfsRoot,
      nfsServer: '127.0.0.1',
      linkMode: 'symlink',
      hostKeyTypes: [],
    });
    expect(await readlink(join(l.tftpDir, 'start.elf'))).toBe('../.images/stretch-lite/start.elf');
    expect(await readlink(join(l.tftpDir, 'overlays'))).toBe('../.images/stretch-lite/overlays');
    expect((await lstat(join(l.tftpDir, 'cmdline.txt'))).isFile()).toBe(true);
    expect(await read(join(l.rootPath, 'etc/passwd'))).toContain('pi:x:1000:1000:,,,:/home/pi:/bin/bash\n');
    expect(await read(join(l.rootPath, 'etc/shadow'))).toContain('pi:!:');
    expect(await read(join(l.rootPath, 'home/pi/.ssh/authorized_keys'))).toBe(`${userKey}\n`);
  });

  it('rejects an invalid node and a node/image mismatch with typed errors', async () => {
    const base = { image: bookworm, tftpRoot, nfsRoot, nfsServer: '127.0.0.1' };
    await expect(
      provisionNode({ ...base, node: { hostname: 'BAD NAME', serial: '1', image: 'x' } }),
    ).rejects.toMatchObject({
      code: 'INVALID_SPEC',
    });
    await expect(
      provisionNode({ ...base, node: { hostname: 'ok', serial: '12345678', image: 'other-image' } }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(
      provisionNode({
        ...base,
        nfsServer: 'a b',
        node: { hostname: 'ok', serial: '12345678', image: 'bookworm-lite' },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(
      provisionNode({
        ...base,
        userMode: 'userconf',
        node: {
          hostname: 'uc',
          serial: '87654321',
          image: 'bookworm-lite',
          user: 'carol',
          sshKeys: [userKey],
        },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    // rejected before anything was written
    await expect(lstat(join(tftpRoot, '87654321'))).rejects.toThrow();
    await expect(lstat(join(nfsRoot, 'uc'))).rejects.toThrow();
  });
});
