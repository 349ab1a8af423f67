/**
 * Extraction benchmark (issue 5): a synthetic Raspberry Pi OS-like root tree (≥ 1.5 GB, ≥ 20,000
 * files: many small files, some large ones, directories, symlinks, hard links, setuid, devices,
 * xattrs, a capability, an ACL) packed with `mkfs.ext4 -O ^64bit,^huge_file -d` into an MBR disk
 * image, then, in one run and on the same warm page cache:
 *   Bramble extract (dir) · mount -o loop,ro,offset= + rsync -aHAX · debugfs rdump · 7z x ·
 *   Bramble extract (tar) · `.img.xz`: Bramble extract vs `xz -T0 -dc > /dev/null`.
 * Needs root (mount, mknod, chown). Trees are written to tmpfs (BENCH_OUT, default /dev/shm) so the
 * figures measure the tools, not this VM's slow shared disk. Writes bench/results/extract.json.
 * debootstrap cannot reach a mirror here, so the tree is generated (see genTree).
 */
import { chmod, chown, link, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { type DumpEntry, dumpTree, normaliseLinks } from '../test/ext4-tree.js';

const HERE = import.meta.dirname;
const WORK = process.env.BENCH_WORK ?? '/tmp/bramble-bench';
const OUT = process.env.BENCH_OUT ?? '/dev/shm/bramble-bench';
const SMALL_FILES = Number(process.env.BENCH_SMALL_FILES ?? 22_000);
const LARGE_FILES = Number(process.env.BENCH_LARGE_FILES ?? 40);
const LARGE_SIZE = Number(process.env.BENCH_LARGE_MB ?? 36) * 1024 * 1024;
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
  maxRssMb: number;
  stdout: string;
}

/** Run a command under /usr/bin/time: wall seconds and peak RSS of the largest process. */
async function timed(cmd: string, args: string[], opts: { shell?: boolean } = {}): Promise<Timed> {
  const marker = '@@TIME@@';
  const r = opts.shell
    ? await execa('/usr/bin/time', ['-f', `${marker}%e %M`, 'sh', '-c', [cmd, ...args].join(' ')], {
        reject: false,
        maxBuffer: 1e9,
      })
    : await execa('/usr/bin/time', ['-f', `${marker}%e %M`, cmd, ...args], { reject: false, maxBuffer: 1e9 });
  const line = r.stderr.split('\n').find((l) => l.startsWith(marker)) ?? '';
  const [sec, rss] = line.slice(marker.length).split(' ');
  if (r.exitCode !== 0 && !cmd.includes('debugfs') && !cmd.includes('7z')) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.exitCode}): ${r.stderr.slice(-2000)}`);
  }
  return { seconds: Number(sec), maxRssMb: Number(rss) / 1024, stdout: r.stdout };
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

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (mount, mknod, chown)');
  await rm(WORK, { recursive: true, force: true });
  await rm(OUT, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  await mkdir(OUT, { recursive: true });
  // Measure the built package (dist), as users run it: build it first.
  await execa('npx', ['tsup'], { cwd: join(HERE, '..') });
  const child = [join(HERE, 'extract-child.mjs')];
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    host: { cpus: (await import('node:os')).cpus().length, node: process.version },
  };
  try {
    const tree = join(OUT, 'tree');
    let t = performance.now();
    const stats = await genTree(tree);
    results.tree = { ...stats, generatedSeconds: (performance.now() - t) / 1000 };
    console.log('tree', results.tree);

    const fsImg = join(WORK, 'root.ext4');
    const fsBytes = Math.ceil((stats.bytes * 1.2 + 200 * MiB) / (8 * MiB)) * 8 * MiB;
    t = performance.now();
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
    const disk = join(WORK, 'disk.img');
    await execa('truncate', ['-s', String(fsBytes + 2 * MiB), disk]);
    await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', disk], {
      input: 'label: dos\nlabel-id: 0x12345678\nstart=2048, type=83\n',
    });
    await execa('dd', [
      `if=${fsImg}`,
      `of=${disk}`,
      'bs=4M',
      'seek=1M',
      'oflag=seek_bytes',
      'conv=notrunc,sparse',
      'status=none',
    ]);
    results.image = {
      bytes: fsBytes,
      features: '-O ^64bit,^huge_file (+ Debian 12 mke2fs.conf ext4 defaults)',
      builtSeconds: (performance.now() - t) / 1000,
    };
    console.log('image', results.image);

    // Warm the page cache for everyone alike.
    await execa('sh', ['-c', `cat ${disk} > /dev/null`]);

    const bramble = join(OUT, 'bramble');
    const b = await timed('node', [...child, disk, '1', bramble, 'dir']);
    const bj = JSON.parse(b.stdout.trim().split('\n').pop() as string);
    results.bramble = {
      ...b,
      stdout: undefined,
      ...rate(stats, b.seconds),
      phases: { openMs: bj.openMs, scanMs: bj.scanMs, writeMs: bj.writeMs },
      result: bj.result,
    };
    console.log('bramble', b.seconds);

    const mnt = join(WORK, 'mnt');
    const rsyncOut = join(OUT, 'rsync');
    await mkdir(mnt);
    await mkdir(rsyncOut);
    const rs = await timed(
      `mount -o loop,ro,offset=${MiB} ${disk} ${mnt} && rsync -aHAX ${mnt}/ ${rsyncOut}/; s=$?; umount -d ${mnt}; exit $s`,
      [],
      { shell: true },
    );
    results.mountRsync = { ...rs, stdout: undefined, ...rate(stats, rs.seconds) };
    console.log('mount+rsync', rs.seconds);

    t = performance.now();
    const mine = withoutAtime(normaliseLinks(await dumpTree(bramble)));
    const theirs = withoutAtime(normaliseLinks(await dumpTree(rsyncOut)));
    const d = diff(mine, theirs);
    results.identicalToRsync = {
      identical: d.length === 0,
      entries: Object.keys(mine).length,
      differences: d,
      note: 'atime excluded: rsync -a does not preserve it',
      compareSeconds: (performance.now() - t) / 1000,
    };
    console.log('identical', results.identicalToRsync);
    await rm(rsyncOut, { recursive: true, force: true });
    await rm(bramble, { recursive: true, force: true });

    const dbg = join(OUT, 'debugfs');
    await mkdir(dbg);
    const df = await timed('debugfs', ['-R', `rdump / ${dbg}`, fsImg]);
    results.debugfsRdump = { ...df, stdout: undefined, ...rate(stats, df.seconds) };
    console.log('debugfs', df.seconds);
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
    console.log('7z', z.seconds);
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
    console.log('bramble tar', bt.seconds);
    await rm(tarOut, { force: true });

    const xzPath = `${disk}.xz`;
    t = performance.now();
    await execa('xz', ['-T0', '-1', '-k', '-f', disk]);
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
    console.log('xz', xzOnly.seconds, 'bramble from xz', bx.seconds);
    await rm(join(OUT, 'bramble-xz'), { recursive: true, force: true });

    const bramSec = (results.bramble as Timed).seconds;
    results.ratios = {
      brambleVsMountRsync: bramSec / rs.seconds,
      brambleXzVsXzAlone: bx.seconds / xzOnly.seconds,
      brambleVsDebugfs: bramSec / df.seconds,
      brambleVs7z: bramSec / z.seconds,
    };
    results.targets = {
      'extraction <= 1.0x mount+rsync': bramSec <= rs.seconds,
      '.img.xz <= 1.3x xz -dc': bx.seconds <= 1.3 * xzOnly.seconds,
      'peak RSS < 300 MB': (results.bramble as Timed).maxRssMb < 300 && bx.maxRssMb < 300,
    };
  } finally {
    await mkdir(join(HERE, 'results'), { recursive: true });
    await writeFile(join(HERE, 'results', 'extract.json'), `${JSON.stringify(results, null, 2)}\n`);
    await execa('sh', ['-c', `umount -d ${join(WORK, 'mnt')} 2>/dev/null; true`]);
    await rm(OUT, { recursive: true, force: true });
    await rm(WORK, { recursive: true, force: true });
    console.log(JSON.stringify(results, null, 2));
  }
}

await main();
