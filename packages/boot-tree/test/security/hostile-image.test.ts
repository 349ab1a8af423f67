/**
 * Issue 12 (critical): a hostile image must never make provisioning write outside the node's trees.
 * Each case plants an attack in a real ext4 root (mkfs.ext4 -d, unpacked with debugfs rdump), runs the
 * real provisioning path (provisionNode) and asserts that a sentinel host directory's sha256 tree is
 * unchanged, that nothing outside the TFTP/NFS roots changed, and the exact outcome: the in-tree result
 * (a symlink in the image means the node's own path) or the typed error.
 */
import { mkdir, mkdtemp, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BootTreeError,
  installOverlayScript,
  type ProvisionOptions,
  provisionNode,
} from '../../src/index.js';
import { hostileImage, treeDigest } from '../helpers/hostile-image.js';

let work: string;
let sentinel: string;
let userKey: string;
let tftpRoot: string;
let nfsRoot: string;
let before: { sentinel: string[]; outside: string[] };
let caseNo = 0;

const SERIAL = '10000000d9780558';

beforeAll(async () => {
  requireTool('ssh-keygen');
  requireTool('debugfs');
  work = await mkdtemp(join(tmpdir(), 'bt-sec-'));
  sentinel = join(work, 'sentinel');
  await mkdir(join(sentinel, 'sub/deeper'), { recursive: true });
  await writeFile(join(sentinel, 'passwd'), 'host:x:0:0:the host file:/root:/bin/sh\n');
  await writeFile(join(sentinel, 'secret'), 'host secret\n', { mode: 0o600 });
  await writeFile(join(sentinel, 'sub/deeper/file'), 'deep\n');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'admin@laptop', '-f', join(work, 'k')]);
  userKey = (await readFile(join(work, 'k.pub'), 'utf8')).trim();
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

beforeEach(async () => {
  caseNo++;
  tftpRoot = join(work, `case${caseNo}`, 'tftp');
  nfsRoot = join(work, `case${caseNo}`, 'nfs');
});

/** Snapshot the sentinel and everything outside this case's TFTP and NFS roots. */
async function snapshot(): Promise<void> {
  before = { sentinel: await treeDigest(sentinel), outside: await treeDigest(work, [tftpRoot, nfsRoot]) };
}

/** Nothing changed in the sentinel or anywhere outside the case's TFTP and NFS roots. */
async function expectHostUntouched(): Promise<void> {
  expect(await treeDigest(sentinel)).toEqual(before.sentinel);
  expect(await treeDigest(work, [tftpRoot, nfsRoot])).toEqual(before.outside);
}

async function image(mutate: (root: string) => Promise<void>) {
  const dir = join(work, `case${caseNo}`, 'image');
  return { name: 'evil', ...(await hostileImage(dir, 'bookworm', mutate)) };
}

function provision(
  img: { name: string; bootDir: string; rootDir: string },
  node: Record<string, unknown>,
  extra: Partial<ProvisionOptions> = {},
) {
  return provisionNode({
    node: { hostname: 'n1', serial: SERIAL, image: 'evil', ...node },
    image: img,
    tftpRoot,
    nfsRoot,
    nfsServer: '127.0.0.1',
    hostKeyTypes: ['ed25519'],
    ...extra,
  });
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected BootTreeError ${code}`).toBeInstanceOf(BootTreeError);
  expect((err as BootTreeError).code).toBe(code);
}

const exists = (p: string) =>
  readFile(p).then(
    () => true,
    (e: NodeJS.ErrnoException) => e.code !== 'ENOENT',
  );

describe('hostile image: symlinks resolve inside the node tree, never on the host', () => {
  it("etc -> /<host dir>: passwd, shadow, hostname, hosts, fstab, host keys and units land in the node's /<host dir>", async () => {
    const img = await image(async (root) => {
      // The image's real /etc lives at the path the symlink names, inside the image.
      await mkdir(join(root, sentinel, '..'), { recursive: true });
      await rename(join(root, 'etc'), join(root, sentinel));
      await symlink(sentinel, join(root, 'etc'));
    });
    await snapshot();
    await provision(img, { user: 'alice', password: 'pw', sshKeys: [userKey] });
    await expectHostUntouched();
    const nodeEtc = join(nfsRoot, 'n1', sentinel);
    expect(await readFile(join(nodeEtc, 'hostname'), 'utf8')).toBe('n1\n');
    expect(await readFile(join(nodeEtc, 'passwd'), 'utf8')).toContain('alice:x:1000:1000:');
    expect(await readFile(join(nodeEtc, 'fstab'), 'utf8')).toContain('/boot/firmware  nfs');
    expect(await readFile(join(nodeEtc, 'ssh/ssh_host_ed25519_key.pub'), 'utf8')).toMatch(/^ssh-ed25519 /);
    expect(await readFile(join(nodeEtc, 'machine-id'), 'utf8')).toMatch(/^[0-9a-f]{32}\n$/);
    expect(await readlink(join(nodeEtc, 'systemd/system/multi-user.target.wants/ssh.service'))).toBe(
      '/lib/systemd/system/ssh.service',
    );
    expect(await readFile(join(nfsRoot, 'n1/home/alice/.ssh/authorized_keys'), 'utf8')).toBe(`${userKey}\n`);
  }, 120_000);

  it('etc/systemd -> ../../../../../../../..<host dir> (relative, escaping): clamped at the node root', async () => {
    const img = await image(async (root) => {
      await mkdir(join(root, sentinel, '..'), { recursive: true });
      await rename(join(root, 'etc/systemd'), join(root, sentinel));
      await symlink(`${'../'.repeat(12)}${sentinel.slice(1)}`, join(root, 'etc/systemd'));
      await symlink(sentinel, join(root, 'etc/ssh-link'));
      await rm(join(root, 'etc/ssh'), { recursive: true });
      await symlink('ssh-link', join(root, 'etc/ssh')); // two hops, the second absolute
    });
    await snapshot();
    await provision(img, {});
    await expectHostUntouched();
    const inTree = join(nfsRoot, 'n1', sentinel);
    expect(await readlink(join(inTree, 'system/sshd.service'))).toBe('/lib/systemd/system/ssh.service');
    expect(
      (await readFile(join(inTree, 'ssh_host_ed25519_key.pub'), 'utf8')).startsWith('ssh-ed25519 '),
    ).toBe(true);
  }, 120_000);

  it('shared root, etc/systemd and etc/ssh escaping: the staged identity resolves them in-tree; host and base untouched', async () => {
    const img = await image(async (root) => {
      await mkdir(join(root, sentinel, '..'), { recursive: true });
      await rename(join(root, 'etc/systemd'), join(root, sentinel));
      await symlink(`${'../'.repeat(12)}${sentinel.slice(1)}`, join(root, 'etc/systemd'));
      await symlink(sentinel, join(root, 'etc/ssh-link'));
      await rm(join(root, 'etc/ssh'), { recursive: true });
      await symlink('ssh-link', join(root, 'etc/ssh'));
    });
    await installOverlayScript(img.rootDir); // the one write to a base, done before the snapshot
    await snapshot();
    await provision(img, { root: 'shared', user: 'alice', password: 'pw' });
    await expectHostUntouched(); // the base is outside the TFTP and NFS roots: unchanged too
    const identity = join(nfsRoot, 'n1', 'identity');
    const inTree = join(identity, sentinel);
    expect(await readlink(join(inTree, 'system/sshd.service'))).toBe('/lib/systemd/system/ssh.service');
    expect(await readFile(join(inTree, 'ssh_host_ed25519_key.pub'), 'utf8')).toMatch(/^ssh-ed25519 /);
    expect(await readFile(join(identity, 'etc/hostname'), 'utf8')).toBe('n1\n');
    expect(await readFile(join(identity, 'etc/passwd'), 'utf8')).toContain('alice:x:1000:1000:');
    // The layer's sparse 8 GiB upper.ext4 is not for the later cases' digests of `work`.
    await rm(join(work, `case${caseNo}`), { recursive: true, force: true });
  }, 120_000);

  it("home/pi -> /<host dir> with --user pi --ssh-key: authorized_keys goes to the node's /<host dir>", async () => {
    const img = await image(async (root) => {
      await rm(join(root, 'home/pi'), { recursive: true });
      await symlink(sentinel, join(root, 'home/pi'));
    });
    await snapshot();
    await provision(img, { user: 'pi', sshKeys: [userKey] });
    await expectHostUntouched();
    expect(await readFile(join(nfsRoot, 'n1', sentinel, '.ssh/authorized_keys'), 'utf8')).toBe(
      `${userKey}\n`,
    );
  }, 120_000);

  it('a symlink loop on the way is SYMLINK_LOOP, and the node trees are removed again', async () => {
    const img = await image(async (root) => {
      await rm(join(root, 'etc/ssh'), { recursive: true });
      await symlink('ssh2', join(root, 'etc/ssh'));
      await symlink('ssh', join(root, 'etc/ssh2'));
    });
    await snapshot();
    await expectCode(provision(img, {}), 'SYMLINK_LOOP');
    await expectHostUntouched();
    expect(await exists(join(nfsRoot, 'n1'))).toBe(false);
    expect(await exists(join(tftpRoot, 'd9780558'))).toBe(false);
  }, 120_000);
});

describe('hostile image: passwd fields are checked before they become paths', () => {
  it('first user with home /../../..<host dir>: UNSAFE_IMAGE, the host dir is not moved into the NFS root', async () => {
    const img = await image(async (root) => {
      const passwd = await readFile(join(root, 'etc/passwd'), 'utf8');
      await writeFile(
        join(root, 'etc/passwd'),
        passwd.replace(':/home/pi:', `:/${'../'.repeat(10)}${sentinel.slice(1)}:`),
      );
    });
    await snapshot();
    await expectCode(provision(img, { user: 'alice', password: 'pw' }), 'UNSAFE_IMAGE');
    await expectHostUntouched();
    expect(await exists(join(nfsRoot, 'n1'))).toBe(false);
  }, 120_000);

  it('an existing user with home /../..<outside>: UNSAFE_IMAGE, nothing created or chowned outside', async () => {
    const outside = join(work, `outside-${caseNo}`);
    const img = await image(async (root) => {
      await writeFile(
        join(root, 'etc/passwd'),
        `${await readFile(join(root, 'etc/passwd'), 'utf8')}bob:x:1001:1001::/${'../'.repeat(10)}${outside.slice(1)}:/bin/bash\n`,
      );
    });
    await snapshot();
    await expectCode(provision(img, { user: 'bob', sshKeys: [userKey] }), 'UNSAFE_IMAGE');
    await expectHostUntouched();
    expect(await exists(outside)).toBe(false);
  }, 120_000);
});

describe('hostile image: numeric fields', () => {
  it('a non-numeric uid for the user is UNSAFE_IMAGE, nothing chowned', async () => {
    const img = await image(async (root) => {
      const passwd = await readFile(join(root, 'etc/passwd'), 'utf8');
      await writeFile(join(root, 'etc/passwd'), passwd.replace('pi:x:1000:1000:', 'pi:x:-1:1000:'));
    });
    await snapshot();
    await expectCode(provision(img, { user: 'pi', sshKeys: [userKey] }), 'UNSAFE_IMAGE');
    await expectHostUntouched();
    expect(await exists(join(nfsRoot, 'n1'))).toBe(false);
  }, 120_000);
});

describe('hostile files: nothing hangs, nothing of the host is read', () => {
  it('a FIFO at /etc/hosts is NOT_A_FILE (never opened for a blocking read)', async () => {
    const img = await image(async () => {});
    await rm(join(img.rootDir, 'etc/hosts'));
    await execa('mkfifo', [join(img.rootDir, 'etc/hosts')]);
    await snapshot();
    await expectCode(provision(img, {}), 'NOT_A_FILE');
    await expectHostUntouched();
  }, 60_000);

  it('boot partition bootcode.bin -> /<host secret>: the host file is not copied into the TFTP root', async () => {
    const img = await image(async () => {});
    await rm(join(img.bootDir, 'bootcode.bin'));
    await symlink(join(sentinel, 'secret'), join(img.bootDir, 'bootcode.bin'));
    await snapshot();
    await provision(img, {});
    await expectHostUntouched();
    for (const f of [join(tftpRoot, 'bootcode.bin'), join(tftpRoot, '.images/evil/bootcode.bin')]) {
      const text = await readFile(f, 'utf8').catch(() => '');
      expect(text).not.toContain('host secret');
    }
  }, 120_000);
});
