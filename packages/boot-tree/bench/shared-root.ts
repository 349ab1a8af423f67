/**
 * Shared-root benchmark (issue 17). A Raspberry-Pi-OS-shaped base (the boot-tree test image's /etc,
 * users and units plus BENCH_ETC_FILES config files and BENCH_USR_FILES files totalling BENCH_USR_MB
 * under /usr), then in one run:
 *   - shared mode: 100 nodes provisioned; the 100th node's wall time, du of its layer + TFTP dir, and
 *     the file system's df delta for it;
 *   - copy mode on the same (ext4) file system: one node, time + df delta (a full copy);
 *   - copy mode on a loop-mounted XFS (reflink=1) and btrfs file: three nodes cloned with
 *     `cp --reflink=auto`: du of a node root (counts its extents) vs the df delta (shared extents).
 * Default host key types (ed25519, ecdsa, rsa), as `bramble node add` uses; the last five nodes' median
 * (plus five nodes with an ed25519 key only, to show RSA-3072's share). Needs root (mount).
 * Writes bench/results/shared-root.json.
 */
import { mkdir, rm, statfs, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { provisionNode } from '../src/index.js';
import { makeImage } from '../test/helpers/synthetic-image.js';

const WORK = process.env.BENCH_WORK ?? '/tmp/bramble-bench-shared';
const NODES = Number(process.env.BENCH_NODES ?? 100);
const ETC_FILES = Number(process.env.BENCH_ETC_FILES ?? 1500);
const USR_FILES = Number(process.env.BENCH_USR_FILES ?? 20_000);
const USR_MB = Number(process.env.BENCH_USR_MB ?? 400);
const MiB = 1024 * 1024;
/** How many of the last nodes (and of the ed25519-only nodes after them) the medians are taken over. */
const TAIL = 5;

function median(values: readonly number[]): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function makeBase(dir: string): Promise<{ name: string; bootDir: string; rootDir: string }> {
  const img = await makeImage(dir, 'bookworm');
  const chunk = Buffer.alloc(Math.max(1, Math.floor((USR_MB * MiB) / USR_FILES)), 0x61);
  for (let i = 0; i < ETC_FILES; i++) {
    const d = join(img.rootDir, 'etc', `conf${i % 60}.d`);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, `file${i}.conf`), `# setting ${i}\nkey=value${i}\n`);
  }
  for (let i = 0; i < 400; i++) {
    await writeFile(
      join(img.rootDir, 'lib/systemd/system', `unit${i}.service`),
      `[Unit]\nDescription=${i}\n`,
    );
  }
  for (let i = 0; i < USR_FILES; i++) {
    const d = join(img.rootDir, 'usr/share', `pkg${i % 500}`);
    if (i < 500) await mkdir(d, { recursive: true });
    // Distinct contents (a counter in front) so no file system can dedupe them.
    const data = Buffer.concat([Buffer.from(`${i}\n`), chunk]);
    await writeFile(join(d, `f${i}`), data);
  }
  return { name: 'bookworm', ...img };
}

async function du(...paths: string[]): Promise<number> {
  const r = await execa('du', ['-s', '-B1', '-c', ...paths]);
  const total = r.stdout.trim().split('\n').at(-1) ?? '0';
  return Number(total.split(/\s+/)[0]);
}

async function used(path: string): Promise<number> {
  await execa('sync', ['-f', path]);
  const s = await statfs(path);
  return (s.blocks - s.bfree) * s.bsize;
}

function provisionOne(
  img: { name: string; bootDir: string; rootDir: string },
  root: string,
  i: number,
  mode: 'shared' | 'copy',
  hostKeyTypes?: ('ed25519' | 'ecdsa' | 'rsa')[],
) {
  const hostname = `n${String(i).padStart(3, '0')}`;
  return provisionNode({
    node: {
      hostname,
      serial: (0xa0000000 + i).toString(16),
      image: 'bookworm',
      user: 'alice',
      passwordHash: '$6$salt$hash',
      address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 2}`,
      ...(mode === 'shared' ? { root: 'shared' } : {}),
    },
    image: img,
    tftpRoot: join(root, 'tftp'),
    nfsRoot: join(root, 'nfs'),
    nfsServer: '10.0.0.1',
    ...(hostKeyTypes ? { hostKeyTypes } : {}),
  });
}

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t = process.hrtime.bigint();
  const value = await f();
  return { value, seconds: Number(process.hrtime.bigint() - t) / 1e9 };
}

async function sharedMode(root: string) {
  const img = await makeBase(join(root, 'image'));
  const baseBytes = await du(img.rootDir);
  const times: number[] = [];
  let last:
    | { seconds: number; dfDelta: number; layerDu: number; tftpDu: number; upperDu: number }
    | undefined;
  for (let i = 1; i <= NODES; i++) {
    const before = i === NODES ? await used(root) : 0;
    const { value, seconds } = await timed(() => provisionOne(img, root, i, 'shared'));
    times.push(seconds);
    if (i === NODES) {
      last = {
        seconds,
        dfDelta: (await used(root)) - before,
        layerDu: await du(value.rootPath),
        tftpDu: await du(value.tftpDir),
        upperDu: await du(join(value.rootPath, 'upper.ext4')),
      };
    }
  }
  // Five more nodes with an ed25519 host key only: what provisioning costs without RSA-3072's prime search.
  const ed25519Only: number[] = [];
  for (let i = 1; i <= TAIL; i++) {
    ed25519Only.push((await timed(() => provisionOne(img, root, NODES + i, 'shared', ['ed25519']))).seconds);
  }
  const lastNodes = times.slice(-TAIL);
  return {
    nodes: NODES,
    baseBytes,
    node100: last,
    firstNodeSeconds: times[0],
    medianSeconds: median(times),
    /** Nodes NODES-TAIL+1 … NODES (default host keys): each time and their median. */
    lastNodesSeconds: lastNodes,
    lastNodesMedianSeconds: median(lastNodes),
    nextNodesEd25519OnlySeconds: ed25519Only,
    nextNodesEd25519OnlyMedianSeconds: median(ed25519Only),
    totalLayersDu: await du(join(root, 'nfs')),
  };
}

async function copyModeHere(root: string) {
  const img = await makeBase(join(root, 'image'));
  await provisionOne(img, root, 1, 'copy'); // the image's shared boot files, once
  const before = await used(root);
  const { value, seconds } = await timed(() => provisionOne(img, root, 2, 'copy'));
  return { seconds, dfDelta: (await used(root)) - before, rootDu: await du(value.rootPath) };
}

/** Copy mode on a loop-mounted file system with reflinks: du of each root vs the df delta. */
async function copyModeReflink(root: string, fs: 'xfs' | 'btrfs') {
  const file = join(root, `${fs}.img`);
  const mnt = join(root, `${fs}-mnt`);
  await mkdir(mnt, { recursive: true });
  await writeFile(file, '');
  await execa('truncate', ['-s', `${Math.max(3, Math.ceil((USR_MB * 3) / 1024) + 2)}G`, file]);
  if (fs === 'xfs') await execa('mkfs.xfs', ['-q', '-f', '-m', 'reflink=1', file]);
  else await execa('mkfs.btrfs', ['-q', '-f', file]);
  await execa('mount', ['-o', 'loop', file, mnt]);
  try {
    const img = await makeBase(join(mnt, 'image'));
    await provisionOne(img, mnt, 1, 'copy');
    const before = await used(mnt);
    const runs: { seconds: number; rootDu: number }[] = [];
    for (let i = 2; i <= 4; i++) {
      const { value, seconds } = await timed(() => provisionOne(img, mnt, i, 'copy'));
      runs.push({ seconds, rootDu: await du(value.rootPath) });
    }
    const dfDelta = (await used(mnt)) - before;
    return {
      fs,
      nodes: runs.length,
      runs,
      dfDeltaForAll: dfDelta,
      duSum: runs.reduce((a, r) => a + r.rootDu, 0),
    };
  } finally {
    await execa('umount', [mnt]).catch(() => undefined);
    await rm(file, { force: true });
  }
}

async function main(): Promise<void> {
  await rm(WORK, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  const fsType = (await execa('stat', ['-f', '-c', '%T', WORK])).stdout.trim();
  const loadBefore = loadavg();
  const shared = await sharedMode(join(WORK, 'shared'));
  const copy = await copyModeHere(join(WORK, 'copy'));
  const reflink = [];
  for (const fs of ['xfs', 'btrfs'] as const) {
    const tool = fs === 'xfs' ? 'mkfs.xfs' : 'mkfs.btrfs';
    if ((await execa('which', [tool], { reject: false })).exitCode === 0)
      reflink.push(await copyModeReflink(WORK, fs));
  }
  const result = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      workFs: fsType,
      /** 1, 5 and 15 minute load averages when the run started and when it ended (a shared machine). */
      loadAverage: { start: loadBefore, end: loadavg() },
    },
    base: { etcFiles: ETC_FILES, usrFiles: USR_FILES, usrMB: USR_MB },
    shared,
    copy,
    reflink,
    ratios: {
      node100SharedVsCopySeconds: shared.node100 ? shared.node100.seconds / copy.seconds : undefined,
      node100SharedVsCopyDisk: shared.node100 ? shared.node100.dfDelta / copy.dfDelta : undefined,
    },
  };
  const out = join(import.meta.dirname, 'results', 'shared-root.json');
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
  await rm(WORK, { recursive: true, force: true });
}

await main();
