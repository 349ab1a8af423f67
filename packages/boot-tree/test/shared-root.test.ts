/**
 * Issue 17: shared-root nodes. Every node of an image boots its read-only base; each node's identity is
 * written to its own layer directory without touching the base, and the initramfs overlay script (run
 * for real in a private mount namespace) assembles base + layer into the node's root.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BootTreeError,
  exportsFile,
  ganeshaConfig,
  OVERLAY_SCRIPT,
  OVERLAY_SCRIPT_PATH,
  parseSharedCmdline,
  provisionNode,
  switchSharedBase,
} from '../src/index.js';
import { treeDigest } from './helpers/hostile-image.js';
import { makeImage } from './helpers/synthetic-image.js';

let work: string;
let tftpRoot: string;
let nfsRoot: string;
let img: { name: string; bootDir: string; rootDir: string };
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000 a@b';
const isRoot = process.getuid?.() === 0;

const provision = (hostname: string, serial: string, extra: Record<string, unknown> = {}) =>
  provisionNode({
    node: { hostname, serial, image: 'bookworm', root: 'shared', user: 'alice', sshKeys: [KEY], ...extra },
    image: img,
    tftpRoot,
    nfsRoot,
    nfsServer: '10.0.0.1',
    hostKeyTypes: ['ed25519'],
    upperSize: '128M',
  });

/** Every file path under dir, relative, sorted. */
async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  };
  await walk('');
  return out.sort();
}

let baseBefore: string[];

beforeAll(async () => {
  requireTool('ssh-keygen');
  requireTool('mke2fs');
  work = await mkdtemp(join(tmpdir(), 'bt-shared-'));
  tftpRoot = join(work, 'tftp');
  nfsRoot = join(work, 'nfs');
  img = { name: 'bookworm', ...(await makeImage(join(work, 'img'), 'bookworm')) };
  baseBefore = await treeDigest(img.rootDir);
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('shared root: provisioning', () => {
  it('writes each node identity to its layer and leaves the base alone (but for the overlay script)', async () => {
    const one = await provision('node1', 'aaaa0001', { address: '10.0.0.11' });
    const two = await provision('node2', 'aaaa0002', { address: '10.0.0.12' });
    expect(one.rootMode).toBe('shared');
    expect(one.basePath).toBe(img.rootDir);
    expect(one.rootPath).toBe(join(nfsRoot, 'node1'));

    // Base: only the initramfs script and hook were added.
    const after = await treeDigest(img.rootDir);
    const added = after.filter((line) => !baseBefore.includes(line));
    expect(added.map((l) => l.split(' ')[0])).toEqual(
      expect.arrayContaining(['/etc/initramfs-tools/hooks/bramble-overlay', OVERLAY_SCRIPT_PATH]),
    );
    expect(added.every((l) => l.startsWith('/etc/initramfs-tools'))).toBe(true);
    expect(baseBefore.filter((line) => !after.includes(line))).toEqual([]);
    expect(await readFile(join(img.rootDir, 'etc/hostname'), 'utf8')).toBe('raspberrypi\n');

    // Layers: identity only (not the whole root), distinct per node.
    for (const [n, layout] of [
      ['node1', one],
      ['node2', two],
    ] as const) {
      const id = join(layout.rootPath, 'identity');
      expect(await readFile(join(id, 'etc/hostname'), 'utf8')).toBe(`${n}\n`);
      expect(await readFile(join(id, 'etc/hosts'), 'utf8')).toContain(n);
      expect(await readFile(join(id, 'etc/passwd'), 'utf8')).toMatch(/^alice:x:/m);
      expect(await readFile(join(id, 'home/alice/.ssh/authorized_keys'), 'utf8')).toContain(KEY);
      expect(await readFile(join(id, 'etc/fstab'), 'utf8')).toContain(`10.0.0.1:${layout.tftpDir}`);
      const list = await files(id);
      expect(list).toContain('/etc/ssh/ssh_host_ed25519_key');
      expect(list).toContain('/etc/machine-id');
      expect(list).not.toContain('/etc/os-release'); // unchanged base files stay in the base
      expect(list.length).toBeLessThan(40);
      expect(await readFile(join(layout.rootPath, 'identity.removed'), 'utf8')).toContain(
        '/etc/ssh/sshd_config.d/rename_user.conf',
      );
      const dump = await execa('dumpe2fs', ['-h', join(layout.rootPath, 'upper.ext4')], { reject: false });
      expect(dump.stdout).toMatch(/Filesystem volume name:\s+bramble-upper/);
      expect(parseSharedCmdline(layout.cmdline)).toEqual({
        base: `10.0.0.1:${img.rootDir}`,
        layer: `10.0.0.1:${layout.rootPath}`,
        upper: 'volume',
      });
      expect(layout.cmdline).toContain(`nfsroot=10.0.0.1:${img.rootDir},vers=3 ro `);
      expect(layout.cmdline.split(' ')).not.toContain('rw');
    }
    const mid = async (p: string) => readFile(join(p, 'identity/etc/machine-id'), 'utf8');
    expect(await mid(one.rootPath)).not.toBe(await mid(two.rootPath));
  }, 120_000);

  it('re-provisioning keeps machine-id, host keys and the stamp', async () => {
    const layer = join(nfsRoot, 'node1');
    const read = (f: string) => readFile(join(layer, f), 'utf8');
    const before = [
      await read('identity/etc/machine-id'),
      await read('identity/etc/ssh/ssh_host_ed25519_key'),
    ];
    const stamp = await read('identity.stamp');
    const again = await provision('node1', 'aaaa0001', { address: '10.0.0.11' });
    expect(again.changes).toEqual([]);
    expect([
      await read('identity/etc/machine-id'),
      await read('identity/etc/ssh/ssh_host_ed25519_key'),
    ]).toEqual(before);
    expect(await read('identity.stamp')).toBe(stamp);
    const renamed = await provision('node1', 'aaaa0001', { address: '10.0.0.11', sshKeys: [`${KEY}2`] });
    expect(renamed.changes).toContain('~alice/.ssh/authorized_keys');
    expect(await read('identity.stamp')).not.toBe(stamp);
  }, 60_000);

  it('exports the base read-only to every node of the image and each layer to its node only', async () => {
    const one = await provision('node1', 'aaaa0001', { address: '10.0.0.11' });
    const two = await provision('node2', 'aaaa0002', { address: '10.0.0.12' });
    const text = exportsFile([one, two]);
    const line = (path: string) => text.split('\n').find((l) => l.startsWith(`${path} `)) ?? '';
    expect(line(img.rootDir)).toMatch(/10\.0\.0\.11\(ro,/);
    expect(line(img.rootDir)).toMatch(/10\.0\.0\.12\(ro,/);
    expect(line(one.rootPath)).toMatch(/^\S+ 10\.0\.0\.11\(rw,[^)]*\)$/);
    expect(line(two.rootPath)).toMatch(/^\S+ 10\.0\.0\.12\(rw,[^)]*\)$/);
    const ganesha = ganeshaConfig([one, two]);
    const block = ganesha.slice(ganesha.indexOf(`Path = ${JSON.stringify(img.rootDir)}`));
    expect(block.slice(0, block.indexOf('FSAL'))).toMatch(/Access_Type = RO;/);
  }, 60_000);

  it('tmpfs nodes get no upper volume; scratch volumes are refused in shared mode', async () => {
    const t = await provision('node3', 'aaaa0003', { root: 'shared-tmpfs' });
    expect(parseSharedCmdline(t.cmdline)?.upper).toBe('tmpfs');
    expect(await readdir(t.rootPath)).not.toContain('upper.ext4');
    const err = await provision('node4', 'aaaa0004', { scratch: { size: '1G' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BootTreeError);
    expect((err as BootTreeError).code).toBe('INVALID_INPUT');
    expect(await readdir(nfsRoot)).not.toContain('node4');
  }, 60_000);

  it('refuses to turn a copy-mode root into a layer', async () => {
    await provisionNode({
      node: { hostname: 'copy1', serial: 'aaaa0005', image: 'bookworm' },
      image: img,
      tftpRoot,
      nfsRoot,
      nfsServer: '10.0.0.1',
      hostKeyTypes: [],
    });
    const err = await provision('copy1', 'aaaa0005').catch((e: unknown) => e);
    expect((err as BootTreeError).code).toBe('INVALID_INPUT');
    expect(await readFile(join(nfsRoot, 'copy1/etc/hostname'), 'utf8')).toBe('copy1\n');
  }, 60_000);

  it('switchSharedBase rewrites nfsroot= and bramble.base= only', () => {
    const one =
      'console=tty1 root=/dev/nfs nfsroot=s:/old,vers=3 ro bramble.base=s:/old bramble.layer=s:/l bramble.upper=volume\n';
    expect(switchSharedBase(one, 's', '/new')).toBe(
      'console=tty1 root=/dev/nfs nfsroot=s:/new,vers=3 ro bramble.base=s:/new bramble.layer=s:/l bramble.upper=volume\n',
    );
    expect(() => switchSharedBase(one, 's', '/a b')).toThrow(BootTreeError);
  });
});

describe.skipIf(!isRoot)('shared root: a provisioned layer boots through the overlay script', () => {
  it('assembles base + node1 layer: identity visible, base untouched, two nodes isolated', async () => {
    requireTool('unshare');
    const script = join(work, 'bramble-overlay');
    await writeFile(script, OVERLAY_SCRIPT);
    await chmod(script, 0o755);
    const boot = async (host: string, after: string) => {
      const rootmnt = join(work, `mnt-${host}`);
      await mkdir(rootmnt, { recursive: true });
      return execa(
        'unshare',
        ['-m', '--propagation', 'private', 'sh', '-c', `. "${script}"\nbramble_main || exit 9\n${after}`],
        {
          env: {
            BRAMBLE_OVERLAY_LIB: '1',
            BRAMBLE_RUN: join(work, `run-${host}`),
            BRAMBLE_CMDLINE: `bramble.base=${img.rootDir} bramble.layer=${join(nfsRoot, host)} bramble.upper=volume`,
            rootmnt,
            PATH: process.env.PATH ?? '/usr/bin:/bin',
          },
          reject: false,
          timeout: 60_000,
        },
      );
    };
    const r1 = await boot(
      'node1',
      `cat "$rootmnt/etc/hostname"; grep -c '^alice:' "$rootmnt/etc/passwd"
       test -e "$rootmnt/etc/ssh/sshd_config.d/rename_user.conf" && echo present || echo removed
       echo mine > "$rootmnt/etc/only-on-node1"`,
    );
    expect(r1.stderr).toBe('');
    expect(r1.stdout.split('\n')).toEqual(['node1', '1', 'removed']);
    const r2 = await boot(
      'node2',
      `cat "$rootmnt/etc/hostname"; test -e "$rootmnt/etc/only-on-node1" && echo leak || echo isolated`,
    );
    expect(r2.stdout.split('\n')).toEqual(['node2', 'isolated']);
    expect(await readFile(join(img.rootDir, 'etc/hostname'), 'utf8')).toBe('raspberrypi\n');
    await expect(readFile(join(img.rootDir, 'etc/only-on-node1'))).rejects.toThrow();
    const again = await boot('node1', 'cat "$rootmnt/etc/only-on-node1"');
    expect(again.stdout).toBe('mine');
  }, 120_000);
});
