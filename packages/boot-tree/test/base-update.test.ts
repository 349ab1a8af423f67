/**
 * Issue 17: a base update for shared-root nodes. The layer's overrides the new base changed are found
 * (identity files and, read with debugfs from a real ext4 upper volume made by mke2fs -d, what the node
 * wrote); re-provisioning on the new base keeps machine-id and host keys and points the cmdline at it.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerOverrides, parseSharedCmdline, provisionNode, upperVolumePaths } from '../src/index.js';
import { makeImage } from './helpers/synthetic-image.js';

let work: string;
let oldImg: { name: string; bootDir: string; rootDir: string };
let newImg: { name: string; bootDir: string; rootDir: string };

const provision = (image: typeof oldImg, carryIdentity?: 'secrets') =>
  provisionNode({
    node: { hostname: 'node1', serial: 'bbbb0001', image: 'bookworm', root: 'shared', user: 'alice' },
    image,
    tftpRoot: join(work, 'tftp'),
    nfsRoot: join(work, 'nfs'),
    nfsServer: '10.0.0.1',
    hostKeyTypes: ['ed25519'],
    upperSize: '64M',
    ...(carryIdentity ? { carryIdentity, refreshImage: true } : {}),
  });

beforeAll(async () => {
  requireTool('mke2fs');
  requireTool('debugfs');
  requireTool('ssh-keygen');
  work = await mkdtemp(join(tmpdir(), 'bt-update-'));
  oldImg = { name: 'bookworm', ...(await makeImage(join(work, 'old'), 'bookworm')) };
  newImg = { name: 'bookworm', ...(await makeImage(join(work, 'new'), 'bookworm')) };
  // The new base: a new system user in passwd, a changed motd, sshd_config unchanged.
  const passwd = await readFile(join(newImg.rootDir, 'etc/passwd'), 'utf8');
  await writeFile(
    join(newImg.rootDir, 'etc/passwd'),
    `${passwd}systemd-new:x:990:990::/:/usr/sbin/nologin\n`,
  );
  await writeFile(join(oldImg.rootDir, 'etc/motd'), 'old motd\n');
  await writeFile(join(newImg.rootDir, 'etc/motd'), 'new motd, longer\n');
  await writeFile(join(oldImg.rootDir, 'etc/untouched.conf'), 'same\n');
  await writeFile(join(newImg.rootDir, 'etc/untouched.conf'), 'same\n');
  await writeFile(join(newImg.rootDir, 'etc/brand-new.conf'), 'x\n');
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('base update', () => {
  it('reports what the layer overrides that the new base changed, then moves the node to the new base', async () => {
    const first = await provision(oldImg);
    // What the node wrote at run time, in its real upper volume (replaced by one mke2fs -d made).
    const src = join(work, 'upper-src');
    await mkdir(join(src, 'upper/etc'), { recursive: true });
    await mkdir(join(src, 'upper/home/alice'), { recursive: true });
    await mkdir(join(src, 'work'), { recursive: true });
    await writeFile(join(src, 'upper/etc/motd'), 'my motd\n');
    await writeFile(join(src, 'upper/etc/untouched.conf'), 'mine\n');
    await writeFile(join(src, 'upper/etc/brand-new.conf'), 'mine too\n');
    await writeFile(join(src, 'upper/home/alice/notes'), 'n\n');
    const volume = join(first.rootPath, 'upper.ext4');
    await rm(volume);
    await execa('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', src, volume, '64M']);

    expect((await upperVolumePaths(volume)).sort()).toEqual([
      '/etc',
      '/etc/brand-new.conf',
      '/etc/motd',
      '/etc/untouched.conf',
      '/home',
      '/home/alice',
      '/home/alice/notes',
    ]);
    const report = await layerOverrides({
      layerDir: first.rootPath,
      oldBase: oldImg.rootDir,
      newBase: newImg.rootDir,
    });
    expect(report).toEqual(
      expect.arrayContaining([
        { path: '/etc/passwd', source: 'identity', change: 'modified' },
        { path: '/etc/motd', source: 'upper', change: 'modified' },
        { path: '/etc/brand-new.conf', source: 'upper', change: 'added' },
      ]),
    );
    const paths = report.map((r) => r.path);
    expect(paths).not.toContain('/etc/untouched.conf');
    expect(paths).not.toContain('/home/alice/notes');
    expect(paths).not.toContain('/etc/hostname'); // overridden, but the same in both bases

    const keep = async () => [
      await readFile(join(first.rootPath, 'identity/etc/machine-id'), 'utf8'),
      await readFile(join(first.rootPath, 'identity/etc/ssh/ssh_host_ed25519_key'), 'utf8'),
    ];
    const before = await keep();
    const moved = await provision(newImg, 'secrets');
    expect(parseSharedCmdline(moved.cmdline)?.base).toBe(`10.0.0.1:${newImg.rootDir}`);
    expect(await readFile(join(moved.tftpDir, 'cmdline.txt'), 'utf8')).toContain(
      `nfsroot=10.0.0.1:${newImg.rootDir},`,
    );
    expect(await keep()).toEqual(before);
    // passwd derived again from the new base: the new system user and the node's user are both there.
    const passwd = await readFile(join(moved.rootPath, 'identity/etc/passwd'), 'utf8');
    expect(passwd).toMatch(/^systemd-new:/m);
    expect(passwd).toMatch(/^alice:/m);
    // The node's own upper volume is kept.
    expect(await upperVolumePaths(volume)).toContain('/home/alice/notes');
  }, 120_000);
});
