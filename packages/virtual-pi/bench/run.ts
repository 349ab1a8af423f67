/**
 * Boot-storm benchmark: N virtual Pis of mixed models boot at once (TFTP only, no DHCP) against the Bramble TFTP
 * server and against tftpd-hpa (in.tftpd), each in its own child process on loopback, from the same generated
 * tree with realistic kernel and initramfs sizes. Writes bench/results/boot-storm.json.
 *
 *   pnpm bench            # 24 Pis
 *   BENCH_PIS=48 pnpm bench
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freeUdpPort, requireTool, startPeer, waitFor } from '@bramble/testkit';
import { probeSize } from '@bramble/tftp';
import { bootStorm, type PiModel, type StormReport, serialRange } from '../src/index.js';
import { makeTftpTree } from '../test/helpers/tree.js';

const TSX = join(import.meta.dirname, '../../../node_modules/.bin/tsx');
const count = Number(process.env.BENCH_PIS ?? 24);
const models: PiModel[] = ['pi4', 'pi5', 'pi3b+', 'cm4'];
const serials = serialRange('d0000000', count);
const sizes = {
  'kernel8.img': 9_000_000,
  'kernel_2712.img': 9_500_000,
  initramfs8: 12_000_000,
  initramfs_2712: 12_500_000,
};

function summary(r: StormReport) {
  const { reports: _r, ...rest } = r;
  return { ...rest, throughputMBps: Number(rest.throughputMBps.toFixed(2)) };
}

const tree = await makeTftpTree({ dirs: serials, sizes });
const results: Record<string, ReturnType<typeof summary>> = {};
try {
  // Bramble TFTP server (createServer + fsHandler) in a child process, like tftpd-hpa: the virtual Pis in
  // this process must not share an event loop with the server they measure.
  const bramble = startPeer([TSX, join(import.meta.dirname, 'bramble-server.ts'), tree.root]);
  try {
    await waitFor(() => /PORT \d+/.test(bramble.output()) || bramble.proc.exitCode !== null, 30_000, 100);
    const port = Number(/PORT (\d+)/.exec(bramble.output())?.[1]);
    if (!port) throw new Error(`bramble-server did not start: ${bramble.output()}`);
    results.bramble = summary(
      await bootStorm({ count, models, serials, dhcp: false, tftp: { host: '127.0.0.1', port } }),
    );
  } finally {
    await bramble.stop();
  }
  // tftpd-hpa, a child process of this one.
  const tftpdPort = await freeUdpPort();
  const tftpd = startPeer([
    requireTool('in.tftpd'),
    '-L',
    '-u',
    'root',
    '-s',
    '-a',
    `127.0.0.1:${tftpdPort}`,
    '-B',
    '1468',
    tree.root,
  ]);
  try {
    await waitFor(
      () =>
        probeSize('127.0.0.1', 'bootcode.bin', { port: tftpdPort, retries: 0, retransmitMs: 200 }).then(
          () => true,
          () => false,
        ),
      10_000,
      100,
    );
    results['tftpd-hpa'] = summary(
      await bootStorm({ count, models, serials, dhcp: false, tftp: { host: '127.0.0.1', port: tftpdPort } }),
    );
  } finally {
    await tftpd.stop();
  }
} finally {
  await tree.cleanup();
}
const out = {
  benchmark: 'boot-storm',
  pis: count,
  models,
  fileSizes: sizes,
  when: new Date().toISOString(),
  node: process.version,
  results,
  ratio: {
    'bramble/tftpd-hpa throughput': Number(
      ((results.bramble?.throughputMBps ?? 0) / (results['tftpd-hpa']?.throughputMBps || 1)).toFixed(2),
    ),
    'bramble/tftpd-hpa p95 boot time': Number(
      ((results.bramble?.bootMs.p95 ?? 0) / (results['tftpd-hpa']?.bootMs.p95 || 1)).toFixed(2),
    ),
  },
};
const dir = join(import.meta.dirname, 'results');
await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'boot-storm.json'), `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
