import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { isRoot, requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extract } from '../src/index.js';
import {
  buildDisk,
  buildExt4,
  buildFat,
  compress,
  makeTempDir,
  mcopyOut,
  PI_BOOT_FILES,
  pseudoRandom,
  removeDir,
  writeTree,
} from './helpers/images.js';

async function contents(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const st = await lstat(p);
      if (st.isDirectory()) await visit(p);
      else
        out[relative(root, p)] = createHash('sha256')
          .update(await readFile(p))
          .digest('hex');
    }
  };
  await visit(root);
  return out;
}

describe('extract from whole disk images (openImage: MBR, FAT boot, ext4 root, .img.xz)', () => {
  let dir: string;
  let disk: string;
  let rootTree: string;
  let bootTree: string;
  beforeAll(async () => {
    requireTool('tar');
    dir = await makeTempDir('extract-disk');
    bootTree = await writeTree(join(dir, 'boot-tree'), {
      ...PI_BOOT_FILES,
      'config.txt': 'arm_64bit=1\n',
      'overlays/README': 'overlays\n',
    });
    rootTree = await writeTree(join(dir, 'root-tree'), {
      'etc/os-release': 'ID=debian\nVERSION_CODENAME=bookworm\n',
      'usr/bin/tool': pseudoRandom(200_000, 9),
      'var/empty/': '',
    });
    const boot = await buildFat(join(dir, 'boot.fat'), {
      fatBits: 32,
      sizeMiB: 40,
      label: 'bootfs',
      fromDir: bootTree,
    });
    const root = await buildExt4(join(dir, 'root.ext4'), { sizeMiB: 32, label: 'rootfs', fromDir: rootTree });
    disk = (
      await buildDisk(join(dir, 'disk.img'), {
        table: 'mbr',
        diskId: '12345678',
        partitions: [
          { image: boot, type: 'c' },
          { image: root, type: '83' },
        ],
      })
    ).path;
  });
  afterAll(async () => {
    await removeDir(dir);
  });

  it('writes the ext4 root partition of an .img.xz (selected by label) as a pax archive GNU tar reads', async () => {
    const xz = await compress(disk, 'xz');
    const to = join(dir, 'root.tar');
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => lines.push(l) });
    const r = await extract(xz, { partition: 'rootfs', to, format: 'tar', logger });
    expect(lines.some((l) => l.includes('extracted file system'))).toBe(true);
    expect(r.files).toBe(2);
    const out = join(dir, 'root-from-tar');
    await mkdir(out);
    await execa('tar', ['-xf', to, '-C', out]);
    const got = await contents(out);
    expect(got['etc/os-release']).toBe((await contents(rootTree))['etc/os-release']);
    expect(got['usr/bin/tool']).toBe((await contents(rootTree))['usr/bin/tool']);
  });

  it.runIf(isRoot())('writes the FAT boot partition with the names and contents mcopy sees', async () => {
    const to = join(dir, 'boot-out');
    const r = await extract(disk, { partition: 1, to });
    expect(r.files).toBeGreaterThan(3);
    const oracle = join(dir, 'boot-mcopy');
    await mkdir(oracle);
    await mcopyOut(disk, 1024 * 1024, oracle);
    expect(await contents(to)).toEqual(await contents(oracle));
    expect(Object.keys(await contents(to))).toContain('config.txt');
  });
});
