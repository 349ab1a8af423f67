import {
  chmod,
  chown,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloneTree } from '../src/index.js';

let work: string;
let src: string;

beforeAll(async () => {
  requireTool('cp');
  requireTool('setfattr');
  requireTool('getfattr');
  work = await mkdtemp(join(tmpdir(), 'bt-clone-'));
  src = join(work, 'src');
  await mkdir(join(src, 'usr/bin'), { recursive: true });
  await mkdir(join(src, 'dev'), { recursive: true });
  await writeFile(join(src, 'usr/bin/ping'), 'ELF ping');
  await execa('setfattr', ['-n', 'user.bramble', '-v', 'kept', join(src, 'usr/bin/ping')]);
  await writeFile(join(src, 'usr/bin/sudo'), 'ELF sudo', { mode: 0o4755 });
  await chmod(join(src, 'usr/bin/sudo'), 0o4755);
  await link(join(src, 'usr/bin/sudo'), join(src, 'usr/bin/sudoedit'));
  await symlink('sudo', join(src, 'usr/bin/sudo-link'));
  await utimes(join(src, 'usr/bin/ping'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
  if (isRoot()) {
    await chown(join(src, 'usr/bin/ping'), 1234, 5678);
    await execa('mknod', [join(src, 'dev/null'), 'c', '1', '3']);
    await execa('setcap', ['cap_net_raw+ep', join(src, 'usr/bin/ping')]).catch(() => undefined);
  }
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('cloneTree', () => {
  it('copies with every piece of metadata a root file system needs', async () => {
    const dst = join(work, 'node1');
    expect(await cloneTree(src, dst)).toBe(true);
    const ping = await lstat(join(dst, 'usr/bin/ping'));
    expect(ping.mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
    const xattr = await execa('getfattr', ['-n', 'user.bramble', '--only-values', join(dst, 'usr/bin/ping')]);
    expect(xattr.stdout).toBe('kept');
    expect((await lstat(join(dst, 'usr/bin/sudo'))).mode & 0o7777).toBe(0o4755);
    const a = await lstat(join(dst, 'usr/bin/sudo'));
    const b = await lstat(join(dst, 'usr/bin/sudoedit'));
    expect(a.ino).toBe(b.ino);
    expect(a.ino).not.toBe((await lstat(join(src, 'usr/bin/sudo'))).ino);
    expect(await readlink(join(dst, 'usr/bin/sudo-link'))).toBe('sudo');
    if (isRoot()) {
      expect([ping.uid, ping.gid]).toEqual([1234, 5678]);
      const dev = await lstat(join(dst, 'dev/null'));
      expect(dev.isCharacterDevice()).toBe(true);
      expect(dev.rdev).toBe((await lstat(join(src, 'dev/null'))).rdev);
      // file capabilities are an xattr (security.capability): kept too
      const capSrc = await execa('getcap', [join(src, 'usr/bin/ping')], { reject: false });
      if (capSrc.stdout.includes('cap_net_raw')) {
        expect((await execa('getcap', [join(dst, 'usr/bin/ping')])).stdout).toContain('cap_net_raw');
      }
    }
    // no temp directory left behind
    expect((await readdir(work)).filter((f) => f.includes('bramble-clone'))).toEqual([]);
  });

  it('keeps an existing node root (idempotent) unless overwrite is asked for', async () => {
    const dst = join(work, 'node1');
    await writeFile(join(dst, 'marker'), 'node state');
    expect(await cloneTree(src, dst)).toBe(false);
    expect((await lstat(join(dst, 'marker'))).isFile()).toBe(true);
    expect(await cloneTree(src, dst, { overwrite: true })).toBe(true);
    await expect(lstat(join(dst, 'marker'))).rejects.toThrow();
  });

  it('hard-link mode shares inodes with the image (explicit opt-in)', async () => {
    const dst = join(work, 'node-hl');
    await cloneTree(src, dst, { mode: 'hardlink' });
    expect((await lstat(join(dst, 'usr/bin/ping'))).ino).toBe((await lstat(join(src, 'usr/bin/ping'))).ino);
  });

  it('fails with typed errors for a missing source and an aborted signal', async () => {
    await expect(cloneTree(join(work, 'nope'), join(work, 'x'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const ac = new AbortController();
    ac.abort();
    await expect(cloneTree(src, join(work, 'y'), { signal: ac.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
  });
});
