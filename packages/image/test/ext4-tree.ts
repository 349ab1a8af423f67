/**
 * Test fixtures for the ext4 reader and extraction: a generated tree holding every kind of entry,
 * packed with `mkfs.ext4 -d`, then touched through a real (loop) mount so the kernel writes
 * nanosecond and post-2038 timestamps, then htree-indexed with `e2fsck -fD`. The oracle is the
 * kernel: `mount -o loop,ro` and a Python dump of every entry's metadata.
 */
import { accessSync, constants } from 'node:fs';
import { link, mkdir, mkdtemp, open, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';

/**
 * Where test trees, images and extractions go: tmpfs (/dev/shm) when available, which supports
 * every xattr namespace, ACLs and device nodes, and spares the shared disk; else the OS temp dir.
 */
export function scratchDir(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

export const FEATURE_SETS = {
  debian: ['-t', 'ext4'],
  'no-csum-32bit': ['-t', 'ext4', '-O', '^metadata_csum,^64bit'],
  'inline-data': ['-t', 'ext4', '-O', 'inline_data'],
  ext2: ['-t', 'ext2'],
  /** Trixie-era defaults: crc32c seed in the superblock, orphan file. */
  trixie: ['-t', 'ext4', '-O', '^64bit,^huge_file,metadata_csum_seed,orphan_file'],
} as const satisfies Record<string, readonly string[]>;
export type FeatureSet = keyof typeof FEATURE_SETS;

export const BIG_DIR_ENTRIES = 3000;

/** Build the source tree (needs root for devices, ownership, setcap). */
export async function buildTree(root: string): Promise<void> {
  for (const t of ['mkfifo', 'mknod', 'setfattr', 'setfacl', 'setcap', 'python3']) requireTool(t);
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'hello.txt'), 'hello, bramble\n');
  await writeFile(join(root, 'empty'), '');
  await writeFile(join(root, 'tiny'), 'x');
  const big = Buffer.alloc(300_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) & 0xff;
  await writeFile(join(root, 'big.bin'), big);
  // 64 MiB sparse file with data at three places (holes stay holes).
  const sparse = join(root, 'sparse.img');
  await truncate(sparse, 0).catch(() => writeFile(sparse, ''));
  const fh = await open(sparse, 'w');
  await fh.write(Buffer.from('start'), 0, 5, 0);
  await fh.write(Buffer.alloc(70_000, 0xab), 0, 70_000, 10 * 1024 * 1024);
  await fh.write(Buffer.from('end'), 0, 3, 64 * 1024 * 1024 - 3);
  await fh.close();
  // hard links
  await mkdir(join(root, 'links'));
  await writeFile(join(root, 'links', 'a'), 'linked content\n');
  await link(join(root, 'links', 'a'), join(root, 'links', 'b'));
  await link(join(root, 'links', 'a'), join(root, 'hardlink-c'));
  // special files
  await mkdir(join(root, 'dev'));
  await execa('mkfifo', [join(root, 'dev', 'fifo')]);
  await execa('mknod', [join(root, 'dev', 'null'), 'c', '1', '3']);
  await execa('mknod', [join(root, 'dev', 'sda'), 'b', '8', '0']);
  await execa('mknod', [join(root, 'dev', 'bignum'), 'c', '259', '65540']);
  await execa('python3', [
    '-c',
    'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])',
    join(root, 'dev', 'sock'),
  ]);
  // modes and owners
  await mkdir(join(root, 'bin'));
  await writeFile(join(root, 'bin', 'sudo'), '#!/bin/sh\necho sudo\n');
  await execa('chown', ['0:0', join(root, 'bin', 'sudo')]);
  await execa('chmod', ['4755', join(root, 'bin', 'sudo')]);
  await writeFile(join(root, 'bin', 'ping'), '#!/bin/sh\necho ping\n');
  await execa('chmod', ['0755', join(root, 'bin', 'ping')]);
  await execa('setcap', ['cap_net_raw+ep', join(root, 'bin', 'ping')]);
  await mkdir(join(root, 'shared'));
  await execa('chmod', ['2775', join(root, 'shared')]);
  await execa('chown', ['1000:100', join(root, 'shared')]);
  await mkdir(join(root, 'tmp'));
  await execa('chmod', ['1777', join(root, 'tmp')]);
  await writeFile(join(root, 'highuid'), 'owned by 100000\n');
  await execa('chown', ['100000:100001', join(root, 'highuid')]);
  // names and links
  await writeFile(join(root, 'héllo wörld ✓.txt'), 'unicode\n');
  await mkdir(join(root, '日本語'));
  await writeFile(join(root, '日本語', 'ファイル'), 'nihongo\n');
  await symlink('hello.txt', join(root, 'fast-link'));
  await symlink(
    '/usr/lib/aarch64-linux-gnu/some/deeply/nested/library/path/libexample.so.1.2.3',
    join(root, 'slow-link'),
  );
  await symlink('../nowhere', join(root, 'dangling'));
  // xattrs and ACLs
  await writeFile(join(root, 'attrs'), 'has xattrs\n');
  await execa('setfattr', ['-n', 'user.comment', '-v', 'a comment', join(root, 'attrs')]);
  await execa('setfattr', ['-n', 'user.binary', '-v', '0sAP8BgH/+', join(root, 'attrs')]);
  await execa('setfattr', ['-n', 'trusted.secret', '-v', 'trust me', join(root, 'attrs')]);
  await execa('setfattr', ['-n', 'user.large', '-v', 'L'.repeat(700), join(root, 'attrs')]);
  await writeFile(join(root, 'acl-file'), 'acl\n');
  await execa('setfacl', ['-m', 'u:1000:rw,g:1001:r', join(root, 'acl-file')]);
  await mkdir(join(root, 'acl-dir'));
  await execa('setfacl', ['-m', 'u:1000:rwx', '-d', '-m', 'u:1000:rx,g:100:rwx', join(root, 'acl-dir')]);
  // a big directory (made htree by e2fsck -fD)
  const bigDir = join(root, 'bigdir');
  await mkdir(bigDir);
  for (let i = 0; i < BIG_DIR_ENTRIES; i++)
    await writeFile(join(bigDir, `entry-${i.toString().padStart(5, '0')}-with-a-longer-name`), `${i}\n`);
  await mkdir(join(root, 'deep', 'a', 'b', 'c', 'd'), { recursive: true });
  await writeFile(join(root, 'deep', 'a', 'b', 'c', 'd', 'leaf'), 'leaf\n');
}

/** Timestamps only a kernel mount writes correctly (mke2fs -d 1.47.0 drops ns and epoch bits). */
async function touchThroughKernel(mnt: string): Promise<void> {
  const stamps: [string, string][] = [
    ['hello.txt', '2021-03-04 05:06:07.123456789'],
    ['big.bin', '1960-06-01 00:00:00.5'],
    ['tiny', '2040-01-01 12:00:00.987654321'],
    ['fast-link', '2022-02-02 02:02:02.000000222'],
    ['links/a', '2019-09-09 09:09:09.999999999'],
    ['dev/fifo', '2023-01-01 00:00:01.000000001'],
  ];
  for (const [p, d] of stamps) await execa('touch', ['-h', '-d', d, join(mnt, p)]);
  // a file written by the kernel (inline data on inline_data images, extents otherwise)
  await writeFile(join(mnt, 'kernel-written'), 'written by the kernel\n');
  await mkdir(join(mnt, 'kdir'));
  await writeFile(join(mnt, 'kdir', 'x'), 'x\n');
  await execa('touch', ['-d', '2030-05-05 05:05:05.555555555', join(mnt, 'kdir')]);
}

export interface BuiltImage {
  path: string;
  dir: string;
  cleanup(): Promise<void>;
}

/** mkfs.ext4 -d <tree> with a feature set, kernel-touched timestamps, then e2fsck -fD (htree). */
export async function buildImage(tree: string, features: FeatureSet, sizeMb = 96): Promise<BuiltImage> {
  const mkfs = requireTool('mkfs.ext4');
  const e2fsck = requireTool('e2fsck');
  requireTool('mount');
  const dir = await mkdtemp(join(scratchDir(), `bramble-ext4-${features}-`));
  const path = join(dir, 'fs.img');
  await execa(mkfs, ['-q', '-F', ...FEATURE_SETS[features], '-L', 'rootfs', '-d', tree, path, `${sizeMb}M`], {
    env: { MKE2FS_CONFIG: '/etc/mke2fs.conf' },
  });
  await withMount(path, async (mnt) => touchThroughKernel(mnt), false);
  const r = await execa(e2fsck, ['-fyD', path], { reject: false });
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`e2fsck -fD failed (${r.exitCode}): ${r.stdout}`);
  return { path, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Loop-mount an image (read-only unless ro=false), run fn, always unmount and detach. */
export async function withMount<T>(img: string, fn: (mnt: string) => Promise<T>, ro = true): Promise<T> {
  const mnt = await mkdtemp(join(scratchDir(), 'bramble-mnt-'));
  await execa('mount', ['-o', ro ? 'loop,ro,noatime' : 'loop', img, mnt]);
  try {
    return await fn(mnt);
  } finally {
    await execa('umount', ['-d', mnt], { reject: false });
    await rm(mnt, { recursive: true, force: true });
  }
}

export interface DumpEntry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: string;
  atime: string;
  target?: string;
  rdev?: string;
  xattrs: Record<string, string>;
  link?: string;
  sha256?: string;
}

/**
 * Dump every entry of a tree as the kernel shows it (lstat ns, xattrs in base64, hard-link group
 * = first path with the same inode, content sha256 read with O_NOATIME).
 */
const DUMP_PY = `
import os, sys, json, stat, hashlib, base64
root = sys.argv[1]
out = {}
first = {}
def kind(m):
    for f, n in ((stat.S_ISREG,'file'),(stat.S_ISDIR,'directory'),(stat.S_ISLNK,'symlink'),(stat.S_ISCHR,'char'),(stat.S_ISBLK,'block'),(stat.S_ISFIFO,'fifo'),(stat.S_ISSOCK,'socket')):
        if f(m): return n
def visit(rel):
    p = os.path.join(root, rel) if rel else root
    st = os.lstat(p)
    e = {'type': kind(st.st_mode), 'mode': stat.S_IMODE(st.st_mode), 'uid': st.st_uid, 'gid': st.st_gid,
         'size': st.st_size if not stat.S_ISDIR(st.st_mode) else 0, 'mtime': str(st.st_mtime_ns), 'atime': str(st.st_atime_ns), 'xattrs': {}}
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError:
        names = []
    for n in names:
        e['xattrs'][n] = base64.b64encode(os.getxattr(p, n, follow_symlinks=False)).decode()
    if stat.S_ISLNK(st.st_mode): e['target'] = os.readlink(p)
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode): e['rdev'] = '%d:%d' % (os.major(st.st_rdev), os.minor(st.st_rdev))
    if stat.S_ISREG(st.st_mode):
        if st.st_nlink > 1:
            k = st.st_ino
            if k in first: e['link'] = first[k]
            else: first[k] = '/' + rel
        fd = os.open(p, os.O_RDONLY | os.O_NOATIME)
        h = hashlib.sha256()
        while True:
            b = os.read(fd, 1 << 20)
            if not b: break
            h.update(b)
        os.close(fd)
        e['sha256'] = h.hexdigest()
    out['/' + rel] = e
    if stat.S_ISDIR(st.st_mode):
        for n in sorted(os.listdir(p)):
            if rel == '' and n == 'lost+found': pass
            visit(os.path.join(rel, n) if rel else n)
visit('')
json.dump(out, sys.stdout)
`;

export async function dumpTree(root: string): Promise<Record<string, DumpEntry>> {
  const r = await execa('python3', ['-c', DUMP_PY, root], { maxBuffer: 256 * 1024 * 1024 });
  return JSON.parse(r.stdout) as Record<string, DumpEntry>;
}

/** Replace each hard-link leader reference with the sorted member list, so traversal order does not matter. */
export function normaliseLinks(d: Record<string, DumpEntry>): Record<string, DumpEntry> {
  const groups = new Map<string, string[]>();
  for (const [p, e] of Object.entries(d)) {
    const leader = e.link ?? p;
    if (e.link !== undefined || groups.has(p)) {
      const g = groups.get(leader) ?? [leader];
      if (!groups.has(leader)) groups.set(leader, g);
      if (e.link !== undefined) g.push(p);
    }
  }
  const memberOf = new Map<string, string>();
  for (const g of groups.values()) {
    const key = [...new Set(g)].sort().join('|');
    for (const p of g) memberOf.set(p, key);
  }
  const out: Record<string, DumpEntry> = {};
  for (const [p, e] of Object.entries(d)) {
    const key = memberOf.get(p);
    const { link: _drop, ...rest } = e;
    out[p] = key !== undefined ? { ...rest, link: key } : rest;
  }
  return out;
}

/** Dump a FileSystem through the reader, in the same shape as dumpTree. */
export async function dumpFs(
  fs: import('../src/filesystem.js').FileSystem,
): Promise<Record<string, DumpEntry>> {
  const { createHash } = await import('node:crypto');
  const out: Record<string, DumpEntry> = {};
  const first = new Map<number, string>();
  for await (const { path, node } of fs.walk('/')) {
    const s = node.stat;
    const e: DumpEntry = {
      type: s.type,
      mode: s.mode,
      uid: s.uid,
      gid: s.gid,
      size: s.type === 'directory' ? 0 : s.size,
      mtime: s.mtimeNs.toString(),
      atime: s.atimeNs.toString(),
      xattrs: {},
    };
    for (const x of await fs.xattrs(node)) e.xattrs[x.name] = x.value.toString('base64');
    if (s.type === 'symlink') e.target = await fs.readlink(node);
    if (s.rdev) e.rdev = `${s.rdev.major}:${s.rdev.minor}`;
    if (s.type === 'file') {
      if (s.nlink > 1) {
        const f = first.get(s.ino);
        if (f !== undefined) e.link = f;
        else first.set(s.ino, path);
      }
      const h = createHash('sha256');
      for (let pos = 0; pos < s.size; pos += 4 << 20) h.update(await fs.read(node, pos, 4 << 20));
      e.sha256 = h.digest('hex');
    }
    out[path] = e;
  }
  return out;
}
