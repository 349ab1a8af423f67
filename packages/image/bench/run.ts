/**
 * Extraction benchmark (issues 5 and 17): a synthetic Raspberry Pi OS-shaped root tree (by default
 * ~21,000 entries, ~500 MB: thousands of small files, some large ones, a sparse file, directories,
 * symlinks, hard links, setuid, devices, a fifo, xattrs, a capability, an ACL) packed with
 * `mkfs.ext4 -O ^64bit,^huge_file -d` into an MBR disk image. The image is built once per shape
 * and cached under BENCH_CACHE (default /var/cache/bramble/bench), outside the repository.
 *
 * Then BENCH_RUNS (default 5) paired runs, each on a warm page cache, alternating which goes first:
 *   `bramble extract` (dir, from the built dist) vs `mount -o loop,ro,offset=` + `rsync -aHAX`,
 * written to an ext4 file system of their own: by default a fresh `mkfs.ext4` in a RAM-backed loop
 * file (/dev/shm), so the figures measure the tools' own work on ext4 and not the journal and disk
 * of this shared VM, where other people's fsyncs stall every create (BENCH_OUT=<dir> writes to an
 * existing directory instead, e.g. on the root file system). The first pair's trees are compared entry by entry (modes, owners,
 * ns mtimes, xattrs, hard links, symlinks, devices, contents). Reports each pair's ratio, the
 * median ratio and the 1-minute load average around each run (the bench box is shared) in
 * bench/results/extract-vs-rsync.json.
 *
 * BENCH_PEERS=1 also runs the issue-5 peers once (debugfs rdump, 7z x, bramble tar, `.img.xz` vs
 * `xz -T0 -dc`) and writes bench/results/extract.json. Needs root (mount, mknod, chown).
 * debootstrap cannot reach a mirror here, so the tree is generated (see genTree).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, link, mkdir, open, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { type DumpEntry, dumpTree, normaliseLinks } from '../test/ext4-tree.js';

const HERE = import.meta.dirname;
const WORK = process.env.BENCH_WORK ?? '/tmp/bramble-bench';
/** Where the trees go: BENCH_OUT, or a private ext4 in RAM mounted here (see outputFs). */
const OUT = process.env.BENCH_OUT ?? join(WORK, 'out');
const PRIVATE_OUT = process.env.BENCH_OUT === undefined;
const OUT_IMG = '/dev/shm/bramble-bench-out.ext4';
const CACHE = process.env.BENCH_CACHE ?? '/var/cache/bramble/bench';
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
const PEERS = process.env.BENCH_PEERS === '1';
const SMALL_FILES = Number(process.env.BENCH_SMALL_FILES ?? 18_000);
const LARGE_FILES = Number(process.env.BENCH_LARGE_FILES ?? 8);
const LARGE_SIZE = Number(process.env.BENCH_LARGE_MB ?? 36) * 1024 * 1024;
/** Bump when genTree changes, so a cached image of the old shape is not reused. */
const TREE_VERSION = 2;
const MiB = 1024 * 1024;

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** 16 MiB of text-like bytes (6 bits of entropy per byte: compresses like binaries/docs do, roughly). */
function pool(): Buffer {
  const r = rng(42);
  const b = Buffer.allocUnsafe(16 * MiB);
  for (let i = 0; i < b.length; i++) b[i] = 0x20 + (r() & 0x3f);
  return b;
}

interface TreeStats {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  bytes: number;
}

async function genTree(root: string): Promise<TreeStats> {
  const p = pool();
  const r = rng(7);
  const s: TreeStats = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0 };
  const dirs: string[] = [];
  for (const top of [
    'usr/share/doc',
    'usr/lib/aarch64-linux-gnu',
    'usr/share/locale',
    'etc',
    'usr/bin',
    'var/lib/dpkg/info',
  ]) {
    for (let i = 0; i < 160; i++) {
      const d = join(root, top, `pkg-${i.toString().padStart(4, '0')}`);
      await mkdir(d, { recursive: true });
      dirs.push(d);
      s.dirs++;
    }
  }
  const small: string[] = [];
  for (let i = 0; i < SMALL_FILES; i++) {
    const d = dirs[r() % dirs.length] as string;
    const size = r() % 100 < 70 ? 200 + (r() % 4000) : 4096 + (r() % 60_000);
    const off = r() % (p.length - size);
    const f = join(d, `file-${i}.${['so', 'txt', 'gz', 'conf', 'py'][i % 5]}`);
    await writeFile(f, p.subarray(off, off + size));
    small.push(f);
    s.files++;
    s.bytes += size;
  }
  for (let i = 0; i < LARGE_FILES; i++) {
    const f = join(root, 'usr/lib/aarch64-linux-gnu', `libbig-${i}.so`);
    const parts: Buffer[] = [];
    for (let done = 0; done < LARGE_SIZE; done += 4 * MiB) {
      const off = r() % (p.length - 4 * MiB);
      parts.push(p.subarray(off, off + Math.min(4 * MiB, LARGE_SIZE - done)));
    }
    await writeFile(f, Buffer.concat(parts));
    s.files++;
    s.bytes += LARGE_SIZE;
  }
  for (let i = 0; i < 2000; i++) {
    const d = dirs[r() % dirs.length] as string;
    const target =
      i % 3 === 0
        ? `/usr/lib/aarch64-linux-gnu/pkg-${(i % 160).toString().padStart(4, '0')}/a-rather-long-library-name-${i}.so.1.2.3`
        : `file-${i}.txt`;
    await symlink(target, join(d, `link-${i}`));
    s.symlinks++;
  }
  for (let i = 0; i < 300 && i * 7 < small.length; i++) {
    await link(small[i * 7] as string, `${small[i * 7] as string}.hardlink`);
    s.hardlinks++;
  }
  // A sparse file (like a swap file or a preallocated database): data, a 60 MiB hole, data.
  const sparse = await open(join(root, 'var/lib/sparse.db'), 'wx');
  await sparse.write(p.subarray(0, 2 * MiB), 0, 2 * MiB, 0);
  await sparse.write(p.subarray(2 * MiB, 4 * MiB), 0, 2 * MiB, 62 * MiB);
  await sparse.close();
  s.files++;
  s.bytes += 4 * MiB;
  const bin = join(root, 'usr/bin');
  await writeFile(join(bin, 'sudo'), p.subarray(0, 200_000));
  await chmod(join(bin, 'sudo'), 0o4755);
  await writeFile(join(bin, 'ping'), p.subarray(0, 80_000));
  await execa('setcap', ['cap_net_raw+ep', join(bin, 'ping')]);
  await mkdir(join(root, 'tmp'));
  await chmod(join(root, 'tmp'), 0o1777);
  await mkdir(join(root, 'dev'));
  await execa('mknod', [join(root, 'dev/null'), 'c', '1', '3']);
  await execa('mknod', [join(root, 'dev/mmcblk0'), 'b', '179', '0']);
  await execa('mkfifo', [join(root, 'dev/initctl')]);
  await mkdir(join(root, 'home/pi'), { recursive: true });
  await chown(join(root, 'home/pi'), 1000, 1000);
  await mkdir(join(root, 'var/log/journal'), { recursive: true });
  await execa('setfacl', ['-m', 'g:4:rx', '-d', '-m', 'g:4:rx', join(root, 'var/log/journal')]);
  for (let i = 0; i < 100 && i < small.length; i++)
    await execa('setfattr', ['-n', 'user.mime_type', '-v', 'text/plain', small[i] as string]);
  return s;
}

interface Timed {
  seconds: number;
  /** user + system CPU seconds of the command and the children it waited for. */
  cpuSeconds: number;
  maxRssMb: number;
  stdout: string;
}

/** Run a command under /usr/bin/time: wall seconds and peak RSS of the largest process. */
async function timed(cmd: string, args: string[], opts: { shell?: boolean } = {}): Promise<Timed> {
  const marker = '@@TIME@@';
  const r = opts.shell
    ? await execa('/usr/bin/time', ['-f', `${marker}%e %M %U %S`, 'sh', '-c', [cmd, ...args].join(' ')], {
        reject: false,
        maxBuffer: 1e9,
      })
    : await execa('/usr/bin/time', ['-f', `${marker}%e %M %U %S`, cmd, ...args], {
        reject: false,
        maxBuffer: 1e9,
      });
  const line = r.stderr.split('\n').find((l) => l.startsWith(marker)) ?? '';
  const [sec, rss, user, sys] = line.slice(marker.length).split(' ');
  if (r.exitCode !== 0 && !cmd.includes('debugfs') && !cmd.includes('7z')) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}): ${r.stderr.slice(-2000)}`);
  }
  return {
    seconds: Number(sec),
    cpuSeconds: Number(user) + Number(sys),
    maxRssMb: Number(rss) / 1024,
    stdout: r.stdout,
  };
}

function rate(stats: TreeStats, seconds: number): { filesPerSec: number; mbPerSec: number } {
  return {
    filesPerSec: Math.round((stats.files + stats.symlinks + stats.dirs) / seconds),
    mbPerSec: Math.round(stats.bytes / 1e6 / seconds),
  };
}

function withoutAtime(d: Record<string, DumpEntry>): Record<string, Omit<DumpEntry, 'atime'>> {
  const out: Record<string, Omit<DumpEntry, 'atime'>> = {};
  for (const [p, e] of Object.entries(d)) {
    const { atime: _a, ...rest } = e;
    out[p] = rest;
  }
  return out;
}

function diff(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k]))
      out.push(`${k}: ${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`);
    if (out.length >= 10) break;
  }
  return out;
}

interface CachedImage {
  disk: string;
  stats: TreeStats;
  fsBytes: number;
}

/** Build the disk image for this shape once (tree → mkfs.ext4 -d → MBR disk), cached under CACHE. */
async function cachedImage(): Promise<CachedImage> {
  const key = createHash('sha256')
    .update(JSON.stringify({ TREE_VERSION, SMALL_FILES, LARGE_FILES, LARGE_SIZE }))
    .digest('hex')
    .slice(0, 12);
  const dir = join(CACHE, `extract-${key}`);
  const disk = join(dir, 'disk.img');
  const meta = join(dir, 'meta.json');
  if (existsSync(disk) && existsSync(meta)) {
    const { stats, fsBytes } = JSON.parse(await (await import('node:fs/promises')).readFile(meta, 'utf8'));
    return { disk, stats, fsBytes };
  }
  await mkdir(dir, { recursive: true });
  const tree = join(WORK, 'tree');
  await rm(tree, { recursive: true, force: true });
  const stats = await genTree(tree);
  const fsImg = join(WORK, 'root.ext4');
  const fsBytes = Math.ceil((stats.bytes * 1.2 + 200 * MiB) / (8 * MiB)) * 8 * MiB;
  await execa('mkfs.ext4', [
    '-q',
    '-F',
    '-O',
    '^64bit,^huge_file',
    '-L',
    'rootfs',
    '-d',
    tree,
    fsImg,
    `${fsBytes / 1024}k`,
  ]);
  await rm(tree, { recursive: true, force: true });
  const partial = `${disk}.partial`;
  await execa('truncate', ['-s', String(fsBytes + 2 * MiB), partial]);
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', partial], {
    input: 'label: dos\nlabel-id: 0x12345678\nstart=2048, type=83\n',
  });
  await execa('dd', [
    `if=${fsImg}`,
    `of=${partial}`,
    'bs=4M',
    'seek=1M',
    'oflag=seek_bytes',
    'conv=notrunc,sparse',
    'status=none',
  ]);
  await rm(fsImg, { force: true });
  await rename(partial, disk);
  await writeFile(meta, JSON.stringify({ stats, fsBytes }));
  return { disk, stats, fsBytes };
}

const load1 = (): number => loadavg()[0] ?? 0;

/** A fresh ext4 (mke2fs defaults) in a RAM-backed loop file, mounted at OUT, room for two trees. */
async function mountPrivateOut(fsBytes: number): Promise<void> {
  await rm(OUT_IMG, { force: true });
  await execa('truncate', ['-s', String(fsBytes * 3), OUT_IMG]);
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'bench-out', OUT_IMG]);
  await mkdir(OUT, { recursive: true });
  await execa('mount', ['-o', 'loop', OUT_IMG, OUT]);
}

async function unmountPrivateOut(): Promise<void> {
  await execa('umount', ['-d', OUT], { reject: false });
  await rm(OUT_IMG, { force: true });
}

async function runBramble(disk: string, to: string): Promise<Record<string, unknown>> {
  const before = load1();
  const b = await timed('node', [join(HERE, 'extract-child.mjs'), disk, '1', to, 'dir']);
  const bj = JSON.parse(b.stdout.trim().split('\n').pop() as string);
  return {
    seconds: b.seconds,
    cpuSeconds: b.cpuSeconds,
    maxRssMb: b.maxRssMb,
    phases: { openMs: bj.openMs, scanMs: bj.scanMs, writeMs: bj.writeMs },
    entries: bj.result.entries,
    load1: [before, load1()],
  };
}

async function runRsync(disk: string, to: string): Promise<Record<string, unknown>> {
  const mnt = join(WORK, 'mnt');
  await mkdir(mnt, { recursive: true });
  await mkdir(to);
  const before = load1();
  const rs = await timed(
    `mount -o loop,ro,offset=${MiB} ${disk} ${mnt} && rsync -aHAX ${mnt}/ ${to}/; s=$?; umount -d ${mnt}; exit $s`,
    [],
    { shell: true },
  );
  return { seconds: rs.seconds, cpuSeconds: rs.cpuSeconds, maxRssMb: rs.maxRssMb, load1: [before, load1()] };
}

/** Remove both trees and flush their writeback, so one run's dirty pages do not slow the next. */
async function cleanOut(): Promise<void> {
  for (const name of ['bramble', 'rsync']) await rm(join(OUT, name), { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  await execa('sync');
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (mount, mknod, chown)');
  await rm(WORK, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  // Measure the built package (dist), as users run it: build it first.
  await execa('npx', ['tsup'], { cwd: join(HERE, '..') });
  const t = performance.now();
  const { disk, stats, fsBytes } = await cachedImage();
  if (PRIVATE_OUT) await mountPrivateOut(fsBytes);
  await cleanOut();
  const outFs = (await execa('stat', ['-f', '-c', '%T', OUT])).stdout.trim();
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    command: 'cd packages/image && pnpm bench',
    host: { cpus: cpus().length, node: process.version, load1AtStart: load1() },
    tree: stats,
    image: { path: disk, bytes: fsBytes, preparedSeconds: (performance.now() - t) / 1000 },
    output: { dir: OUT, fileSystem: outFs, privateExt4InRam: PRIVATE_OUT },
  };
  console.log(results);
  const runs: Record<string, unknown>[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      await execa('sh', ['-c', `cat ${disk} > /dev/null`]);
      const brambleOut = join(OUT, 'bramble');
      const rsyncOut = join(OUT, 'rsync');
      const brambleFirst = i % 2 === 0;
      let bramble: Record<string, unknown>;
      let rsync: Record<string, unknown>;
      if (brambleFirst) {
        bramble = await runBramble(disk, brambleOut);
        await execa('sync');
        rsync = await runRsync(disk, rsyncOut);
      } else {
        rsync = await runRsync(disk, rsyncOut);
        await execa('sync');
        bramble = await runBramble(disk, brambleOut);
      }
      const run: Record<string, unknown> = {
        brambleFirst,
        bramble,
        mountRsync: rsync,
        ratio: (bramble.seconds as number) / (rsync.seconds as number),
        cpuRatio: (bramble.cpuSeconds as number) / (rsync.cpuSeconds as number),
      };
      if (i === 0) {
        const mine = withoutAtime(normaliseLinks(await dumpTree(brambleOut)));
        const theirs = withoutAtime(normaliseLinks(await dumpTree(rsyncOut)));
        const d = diff(mine, theirs);
        results.identicalToRsync = {
          identical: d.length === 0,
          entries: Object.keys(mine).length,
          differences: d,
          note: 'atime excluded: rsync -a does not preserve it',
        };
        console.log('identical', results.identicalToRsync);
      }
      runs.push(run);
      console.log(`run ${i + 1}/${RUNS}`, JSON.stringify(run));
      await cleanOut();
    }
    const ratios = runs.map((r) => r.ratio as number);
    const bramSecs = runs.map((r) => (r.bramble as { seconds: number }).seconds);
    const rsyncSecs = runs.map((r) => (r.mountRsync as { seconds: number }).seconds);
    results.runs = runs;
    const cpuRatios = runs.map((r) => r.cpuRatio as number);
    results.summary = {
      medianCpuRatio: median(cpuRatios),
      brambleMedianCpuSeconds: median(runs.map((r) => (r.bramble as { cpuSeconds: number }).cpuSeconds)),
      mountRsyncMedianCpuSeconds: median(
        runs.map((r) => (r.mountRsync as { cpuSeconds: number }).cpuSeconds),
      ),
      brambleMedianSeconds: median(bramSecs),
      mountRsyncMedianSeconds: median(rsyncSecs),
      medianRatio: median(ratios),
      minRatio: Math.min(...ratios),
      maxRatio: Math.max(...ratios),
      load1AtEnd: load1(),
      brambleMaxRssMb: Math.max(...runs.map((r) => (r.bramble as { maxRssMb: number }).maxRssMb)),
      ...rate(stats, median(bramSecs)),
    };
    results.targets = {
      'extraction <= 0.7x mount+rsync (median ratio)': median(ratios) <= 0.7,
      'tree identical to rsync': (results.identicalToRsync as { identical: boolean }).identical,
      'peak RSS < 300 MB': (results.summary as { brambleMaxRssMb: number }).brambleMaxRssMb < 300,
    };
    if (PEERS) await peers(disk, stats, results);
  } finally {
    await mkdir(join(HERE, 'results'), { recursive: true });
    const file = PEERS ? 'extract.json' : 'extract-vs-rsync.json';
    await writeFile(join(HERE, 'results', file), `${JSON.stringify(results, null, 2)}\n`);
    await execa('sh', ['-c', `umount -d ${join(WORK, 'mnt')} 2>/dev/null; true`]);
    await cleanOut();
    if (PRIVATE_OUT) await unmountPrivateOut();
    await rm(WORK, { recursive: true, force: true });
    console.log(JSON.stringify(results.summary ?? results, null, 2));
  }
}

/** The issue-5 peers, once each (BENCH_PEERS=1): debugfs rdump, 7z x, bramble tar, .img.xz vs xz -dc. */
async function peers(disk: string, stats: TreeStats, results: Record<string, unknown>): Promise<void> {
  const child = [join(HERE, 'extract-child.mjs')];
  const fsImg = join(WORK, 'root.ext4');
  await execa('dd', [
    `if=${disk}`,
    `of=${fsImg}`,
    'bs=4M',
    'skip=1M',
    'iflag=skip_bytes',
    'conv=sparse',
    'status=none',
  ]);
  const bramSec = (results.summary as { brambleMedianSeconds: number }).brambleMedianSeconds;

  const dbg = join(OUT, 'debugfs');
  await mkdir(dbg);
  const df = await timed('debugfs', ['-R', `rdump / ${dbg}`, fsImg]);
  results.debugfsRdump = { ...df, stdout: undefined, ...rate(stats, df.seconds) };
  await rm(dbg, { recursive: true, force: true });

  const sz = join(OUT, '7z');
  const z = await timed('7z', ['x', '-y', `-o${sz}`, fsImg]);
  results.sevenZip = {
    ...z,
    stdout: undefined,
    ...rate(stats, z.seconds),
    version: (await execa('7z', ['i'], { reject: false })).stdout
      .split('\n')
      .find((l) => l.includes('7-Zip')),
  };
  await rm(sz, { recursive: true, force: true });

  const tarOut = join(OUT, 'root.tar');
  const bt = await timed('node', [...child, disk, '1', tarOut, 'tar']);
  const btj = JSON.parse(bt.stdout.trim().split('\n').pop() as string);
  results.brambleTar = {
    ...bt,
    stdout: undefined,
    ...rate(stats, bt.seconds),
    tarBytes: (await stat(tarOut)).size,
    phases: { scanMs: btj.scanMs, writeMs: btj.writeMs },
  };
  await rm(tarOut, { force: true });

  const xzPath = join(WORK, 'disk.img.xz');
  const t = performance.now();
  await execa('sh', ['-c', `xz -T0 -1 -c ${disk} > ${xzPath}`]);
  results.xzCompress = {
    seconds: (performance.now() - t) / 1000,
    bytes: (await stat(xzPath)).size,
    level: '-1 -T0 (multi-block)',
  };
  const xzOnly = await timed(`xz -T0 -dc ${xzPath} > /dev/null`, [], { shell: true });
  results.xzDecompressOnly = { ...xzOnly, stdout: undefined };
  const bx = await timed('node', [...child, xzPath, '1', join(OUT, 'bramble-xz'), 'dir']);
  const bxj = JSON.parse(bx.stdout.trim().split('\n').pop() as string);
  results.brambleFromXz = {
    ...bx,
    stdout: undefined,
    phases: { decompressMs: bxj.openMs, scanMs: bxj.scanMs, writeMs: bxj.writeMs },
  };
  await rm(join(OUT, 'bramble-xz'), { recursive: true, force: true });
  results.peerRatios = {
    brambleXzVsXzAlone: bx.seconds / xzOnly.seconds,
    brambleVsDebugfs: bramSec / df.seconds,
    brambleVs7z: bramSec / z.seconds,
  };
}

await main();
