import { freeUdpPort, requireTool, startPeer, waitFor } from '@bramble/testkit';
import { createServer, fsHandler, probeSize } from '@bramble/tftp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootStorm, serialRange } from '../src/index.js';
import { makeTftpTree, type Tree } from './helpers/tree.js';

describe('bootStorm', () => {
  let tree: Tree;
  const serials = serialRange('c0000000', 12);
  beforeAll(async () => {
    tree = await makeTftpTree({ dirs: serials.slice(0, 11) }); // the 12th Pi has no directory and no root files
  });
  afterAll(async () => {
    await tree?.cleanup();
  });

  it('boots a mixed rack against the Bramble TFTP server and aggregates verdicts', async () => {
    const server = createServer({ handler: fsHandler(tree.root) });
    const { port } = await server.listen({ address: '127.0.0.1', port: 0 });
    try {
      const r = await bootStorm({
        count: 12,
        models: ['pi3b+', 'pi4', 'pi5', 'cm4'],
        serials,
        dhcp: false,
        tftp: { host: '127.0.0.1', port },
      });
      expect(r.count).toBe(12);
      expect(r.booted).toBe(11);
      expect(r.byModel).toEqual({
        'pi3b+': { count: 3, booted: 3 },
        pi4: { count: 3, booted: 3 },
        pi5: { count: 3, booted: 3 },
        cm4: { count: 3, booted: 2 },
      });
      expect(r.reasons).toEqual({ 'start4.elf not found under c000000b/ and not in root': 1 });
      expect(r.totalBytes).toBe(r.reports.reduce((n, x) => n + x.totalBytes, 0));
      expect(r.bootMs.min).toBeLessThanOrEqual(r.bootMs.p50);
      expect(r.bootMs.p95).toBeLessThanOrEqual(r.bootMs.max);
    } finally {
      await server.close();
    }
  });

  it('boots Pi 4s and Pi 5s against tftpd-hpa (in.tftpd) on loopback', async () => {
    const tftpd = requireTool('in.tftpd');
    const port = await freeUdpPort();
    const peer = startPeer([
      tftpd,
      '-L',
      '-u',
      'root',
      '-s',
      '-a',
      `127.0.0.1:${port}`,
      '-B',
      '1468',
      tree.root,
    ]);
    try {
      await waitFor(
        () =>
          probeSize('127.0.0.1', 'bootcode.bin', { port, retries: 0, retransmitMs: 200 }).then(
            () => true,
            () => false,
          ),
        10_000,
        100,
      );
      const r = await bootStorm({
        count: 4,
        models: ['pi4', 'pi5'],
        serials: serials.slice(0, 4),
        dhcp: false,
        tftp: { host: '127.0.0.1', port },
        timeoutMs: 60_000,
      });
      expect(r.reasons).toEqual({});
      expect(r.booted).toBe(4);
      const pi5 = r.reports.find((x) => x.model === 'pi5');
      expect(pi5?.files.find((f) => f.path.endsWith('kernel_2712.img'))?.options.blksize).toBe('1468');
    } finally {
      await peer.stop();
    }
  });

  it('tftpd-hpa refusing tsize/blksize (no OACK): the Pi 4 firmware ignores config.txt, the Pi 5 does not', async () => {
    const tftpd = requireTool('in.tftpd');
    const port = await freeUdpPort();
    const peer = startPeer([
      tftpd,
      '-L',
      '-u',
      'root',
      '-s',
      '-r',
      'tsize',
      '-r',
      'blksize',
      '-a',
      `127.0.0.1:${port}`,
      tree.root,
    ]);
    try {
      await waitFor(
        () =>
          probeSize('127.0.0.1', 'bootcode.bin', { port, retries: 0, retransmitMs: 200 }).then(
            () => true,
            () => false,
          ),
        10_000,
        100,
      );
      const r = await bootStorm({
        count: 2,
        models: ['pi4', 'pi5'],
        serials: serials.slice(0, 2),
        dhcp: false,
        tftp: { host: '127.0.0.1', port },
      });
      const [pi4, pi5] = r.reports;
      expect(pi4?.verdict).toBe('would boot');
      expect(pi4?.warnings.join('\n')).toContain('silently ignores config.txt');
      // config.txt's dtoverlay= and auto_initramfs=1 never took effect.
      expect(pi4?.initramfs).toBeUndefined();
      expect(pi4?.files.some((f) => f.path.includes('overlays/'))).toBe(false);
      expect(pi4?.files.every((f) => Object.keys(f.options).length === 0)).toBe(true);
      expect(pi5?.initramfs).toBe(`${serials[1]}/initramfs_2712`);
    } finally {
      await peer.stop();
    }
  });

  it('rejects a storm with no models', async () => {
    await expect(
      bootStorm({ count: 1, models: [], dhcp: false, tftp: { host: '127.0.0.1' } }),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
  });
});
