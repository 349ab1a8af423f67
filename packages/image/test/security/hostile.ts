/**
 * Helpers for crafting hostile images with the real tools (mke2fs -d, debugfs -w, mkfs.vfat,
 * mtools) and for proving that extraction wrote nothing it should not: a sentinel directory's
 * sha256 tree, and a directory listing taken before and after.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { scratchDir } from '../ext4-tree.js';

export async function scratch(tag: string): Promise<string> {
  return mkdtemp(join(scratchDir(), `bramble-sec-${tag}-`));
}

/** Every entry under `root`: relative path → type, mode, size and sha256 of content or link target. */
export async function treeDigest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const key = rel ? `${rel}/${name}` : name;
      const st = await lstat(path);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[key] = `dir ${mode}`;
        await visit(path, key);
      } else if (st.isSymbolicLink()) {
        out[key] = `link ${await readlink(path)}`;
      } else {
        const hash = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
        out[key] = `file ${mode} ${st.size} ${hash}`;
      }
    }
  };
  await visit(root, '');
  return out;
}

/** A sentinel directory with a few files, to prove by its digest that nothing touched it. */
export async function makeSentinel(path: string): Promise<Record<string, string>> {
  await mkdir(join(path, 'sub'), { recursive: true });
  await writeFile(join(path, 'keep.txt'), 'sentinel\n');
  await writeFile(join(path, 'sub', 'data.bin'), Buffer.alloc(4096, 0x5a));
  return treeDigest(path);
}

/** Run debugfs commands (write mode) on an image, one request. */
export async function debugfsWrite(image: string, commands: string[]): Promise<void> {
  const debugfs = requireTool('debugfs');
  const file = `${image}.debugfs-commands`;
  await writeFile(file, `${commands.join('\n')}\n`);
  const r = await execa(debugfs, ['-w', '-f', file, image], { reject: false, all: true });
  const bad = String(r.all)
    .split('\n')
    .filter((l) => /invalid|error|not found|usage/i.test(l));
  if (r.exitCode !== 0 || bad.length > 0) throw new Error(`debugfs failed: ${bad.join('; ') || r.all}`);
}

export async function debugfsRead(image: string, request: string): Promise<string> {
  const r = await execa(requireTool('debugfs'), ['-R', request, image], { stderr: 'ignore' });
  return String(r.stdout);
}

export interface Extent {
  logical: number;
  physical: number;
  length: number;
}

/** The leaf extents of a file, from `debugfs -R "ex <path>"`. */
export async function extentsOf(image: string, path: string): Promise<Extent[]> {
  const text = await debugfsRead(image, `ex ${path}`);
  const out: Extent[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\/\s*(\d+)\s+\d+\/\s*\d+\s+(\d+)\s*-\s*\d+\s+(\d+)\s*-\s*\d+\s+(\d+)/.exec(line);
    if (m && m[1] === m[2]) out.push({ logical: Number(m[3]), physical: Number(m[4]), length: Number(m[5]) });
  }
  return out;
}

/** Inode number of a path (`debugfs -R "stat <path>"`). */
export async function inodeOf(image: string, path: string): Promise<number> {
  const m = /Inode:\s+(\d+)/.exec(await debugfsRead(image, `stat ${path}`));
  if (!m) throw new Error(`no inode for ${path}`);
  return Number(m[1]);
}

/**
 * debugfs `sif` commands that replace a file's in-inode extent root with `extents` (at most 4,
 * depth 0; ext4 ifork.rst: i_block[0] = magic 0xF30A | entries << 16, [1] = max 4 | depth 0 << 16,
 * then 3 words per extent: ee_block, ee_len | ee_start_hi << 16, ee_start_lo) and sets its size.
 */
export function extentRootCommands(path: string, extents: Extent[], size: number): string[] {
  if (extents.length > 4) throw new Error('an in-inode extent root holds at most 4 extents');
  const slot = (i: number) => (i < 12 ? String(i) : (['IND', 'DIND', 'TIND'][i - 12] as string));
  const words = [0xf30a | (extents.length << 16), 4, 0];
  for (const e of extents) words.push(e.logical, e.length, e.physical);
  return [...words.map((w, i) => `sif ${path} block[${slot(i)}] ${w}`), `sif ${path} size ${size}`];
}

/** `e2fsck -fn`: exit code and report (4 = errors left uncorrected). */
export async function e2fsckReport(image: string): Promise<{ exitCode: number; report: string }> {
  const r = await execa(requireTool('e2fsck'), ['-fn', image], { reject: false, all: true });
  return { exitCode: r.exitCode ?? -1, report: String(r.all) };
}

/** Block count and block size from `dumpe2fs -h`. */
export async function ext4Geometry(
  image: string,
): Promise<{ blocks: number; blockSize: number; free: number }> {
  const r = await execa(requireTool('dumpe2fs'), ['-h', image], { stderr: 'ignore' });
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(String(r.stdout))?.[1]);
  return { blocks: field('Block count'), blockSize: field('Block size'), free: field('Free blocks') };
}
