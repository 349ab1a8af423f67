import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { makeImage, type Release } from './synthetic-image.js';

/**
 * Every entry under `dir` (recursively, symlinks not followed) as `path type mode uid:gid content`, where
 * content is the sha256 of a file or the target of a symlink. Equal digests before and after = not a
 * byte, mode or owner changed. Paths under `exclude` are skipped.
 */
export async function treeDigest(dir: string, exclude: readonly string[] = []): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string, rel: string): Promise<void> => {
    if (exclude.includes(path)) return;
    const st = await lstat(path);
    const mode = (st.mode & 0o7777).toString(8);
    const head = `${rel || '.'} ${mode} ${st.uid}:${st.gid}`;
    if (st.isSymbolicLink()) out.push(`${head} link ${await readlink(path)}`);
    else if (st.isFile()) {
      out.push(
        `${head} file ${createHash('sha256')
          .update(await readFile(path))
          .digest('hex')}`,
      );
    } else if (st.isDirectory()) {
      out.push(`${head} dir`);
      for (const name of (await readdir(path)).sort()) await walk(join(path, name), `${rel}/${name}`);
    } else out.push(`${head} other`);
  };
  await walk(dir, '');
  return out;
}

/**
 * A hostile image's extracted partitions, made with real tools: the synthetic Raspberry Pi OS tree of
 * `release` is staged, `mutate` plants the attack (symlinks, passwd fields), the root is packed into an
 * ext4 file system with `mkfs.ext4 -d` and unpacked again with `debugfs -R 'rdump / DIR'` — the
 * symlinks and fields are exactly what an ext4 root partition carries.
 */
export async function hostileImage(
  dir: string,
  release: Release,
  mutate: (stagedRoot: string) => Promise<void>,
): Promise<{ bootDir: string; rootDir: string }> {
  const staged = await makeImage(join(dir, 'staged'), release);
  await mutate(staged.rootDir);
  const fs = join(dir, 'root.ext4');
  await execa(requireTool('mkfs.ext4'), [
    '-q',
    '-F',
    '-E',
    'root_owner=0:0',
    '-d',
    staged.rootDir,
    fs,
    '32M',
  ]);
  const rootDir = join(dir, 'root');
  await mkdir(rootDir, { recursive: true });
  await execa(requireTool('debugfs'), ['-R', `rdump / ${rootDir}`, fs]);
  return { bootDir: staged.bootDir, rootDir };
}
