/** Issue 15: the per-node scratch volume (sparse ext4 file, loop-mounted through fstab). */
import { lstat, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootTreeError, parseScratchFlag, provisionNode, SCRATCH_FILE } from '../src/index.js';
import { makeImage } from './helpers/synthetic-image.js';

let work: string;
let img: { name: string; bootDir: string; rootDir: string };

beforeAll(async () => {
  requireTool('mke2fs');
  requireTool('e2fsck');
  requireTool('dumpe2fs');
  work = await mkdtemp(join(tmpdir(), 'bt-scratch-'));
  img = { name: 'bookworm', ...(await makeImage(join(work, 'img'), 'bookworm')) };
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const provision = (hostname: string, serial: string, scratch: Record<string, string>) =>
  provisionNode({
    node: { hostname, serial, image: 'bookworm', scratch },
    image: img,
    tftpRoot: join(work, 'tftp'),
    nfsRoot: join(work, 'nfs'),
    nfsServer: '127.0.0.1',
    hostKeyTypes: [],
  });

describe('scratch volume', () => {
  it('parses SIZE[:PATH] and refuses bad sizes and paths', () => {
    expect(parseScratchFlag('20G')).toEqual({ size: '20G', path: '/var/lib/containerd' });
    expect(parseScratchFlag('512M:/var/lib/rancher')).toEqual({ size: '512M', path: '/var/lib/rancher' });
    for (const bad of ['10M', 'lots', '20G:relative', '20G:/var/../etc', '20G:/with space', '99T']) {
      expect(() => parseScratchFlag(bad), bad).toThrow(BootTreeError);
    }
  });

  it('a sparse, clean ext4 file in the node root, an fstab loop line, kept on re-runs', async () => {
    const layout = await provision('s1', '55555555', { size: '256M', path: '/var/lib/rancher' });
    const root = join(work, 'nfs/s1');
    const file = join(root, SCRATCH_FILE);
    const st = await stat(file);
    expect(st.isFile()).toBe(true);
    expect(st.size).toBe(256 * 1024 * 1024);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.blocks * 512).toBeLessThan(st.size / 4); // sparse
    const fsck = await execa('e2fsck', ['-fn', file], { reject: false });
    expect(fsck.exitCode, fsck.stdout + fsck.stderr).toBe(0);
    const dump = (await execa('dumpe2fs', ['-h', file])).stdout;
    expect(dump).toMatch(/Filesystem volume name:\s+bramble-scratch/);
    expect(dump).toMatch(/Filesystem features:.*\bextent\b/);
    expect(dump).toMatch(/Block count:\s+(\d+)/);
    const fstab = await readFile(join(root, 'etc/fstab'), 'utf8');
    expect(fstab).toContain(
      '# bramble: scratch volume (ext4 in a file, loop-mounted)\n/var/lib/bramble/scratch.ext4  /var/lib/rancher  ext4  loop,noatime,nofail  0  0\n',
    );
    expect((await lstat(join(root, 'var/lib/rancher'))).isDirectory()).toBe(true);
    expect(layout.changes).toContain(SCRATCH_FILE);
    const again = await provision('s1', '55555555', { size: '256M', path: '/var/lib/rancher' });
    expect(again.changes).toEqual([]);
    expect((await stat(file)).ino).toBe(st.ino);
    expect((await readFile(join(root, 'etc/fstab'), 'utf8')).match(/scratch\.ext4/g)).toHaveLength(1);
    // A different size is refused (no resize, no silent wipe of the node's data).
    const err = await provision('s1', '55555555', { size: '512M', path: '/var/lib/rancher' }).catch(
      (e: unknown) => e,
    );
    expect((err as BootTreeError).code).toBe('INVALID_INPUT');
    expect((await stat(file)).ino).toBe(st.ino);
  }, 120_000);

  it('var/lib -> /<host dir> in the image: the volume is made in the node tree, not on the host', async () => {
    const hostDir = join(work, 'hostdir');
    const evil = { name: 'bookworm', ...(await makeImage(join(work, 'evil'), 'bookworm')) };
    await execa('mkdir', ['-p', hostDir, join(evil.rootDir, 'var')]);
    await symlink(hostDir, join(evil.rootDir, 'var/lib'));
    await provisionNode({
      node: { hostname: 's2', serial: '66666666', image: 'bookworm', scratch: { size: '64M' } },
      image: evil,
      tftpRoot: join(work, 'tftp2'),
      nfsRoot: join(work, 'nfs2'),
      nfsServer: '127.0.0.1',
      hostKeyTypes: [],
    });
    expect((await execa('ls', ['-A', hostDir])).stdout).toBe('');
    expect((await stat(join(work, 'nfs2/s2', hostDir, 'bramble/scratch.ext4'))).size).toBe(64 * 1024 * 1024);
  }, 120_000);
});
