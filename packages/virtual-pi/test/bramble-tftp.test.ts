import { Readable } from 'node:stream';
import { PI_MODEL_TABLE } from '@bramble/pi';
import { createServer, fsHandler, type TftpServer } from '@bramble/tftp';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bootVirtualPi, formatReport, type PiModel, SIMULATED_MODELS } from '../src/index.js';
import { makeTftpTree, sha256, type Tree } from './helpers/tree.js';

const serial = '7a1b2c3d';

/** A Bramble TFTP server (createServer + fsHandler) on loopback, serving a generated tree. */
async function serve(tree: Tree): Promise<{ server: TftpServer; port: number; requests: string[] }> {
  const server = createServer({ handler: fsHandler(tree.root) });
  const requests: string[] = [];
  server.on('request', (e: { file: string }) => requests.push(e.file));
  const addr = await server.listen({ address: '127.0.0.1', port: 0 });
  return { server, port: addr.port, requests };
}

describe('virtual Pis against the Bramble TFTP server on loopback', () => {
  let tree: Tree;
  let srv: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    tree = await makeTftpTree({ dirs: [serial], nfsServer: '10.0.0.1' });
    srv = await serve(tree);
  });
  afterAll(async () => {
    await srv?.server.close();
    await tree?.cleanup();
  });
  afterEach(() => {
    srv.requests.length = 0;
  });

  it.each(SIMULATED_MODELS.map((m) => [m]))('%s boots from its serial directory', async (model) => {
    const r = await bootVirtualPi({
      model: model as PiModel,
      serial,
      dhcp: false,
      tftp: { host: '127.0.0.1', port: srv.port },
    });
    expect(r.verdict, formatReport(r)).toBe('would boot');
    expect(r.prefix).toBe(`${serial}/`);
    expect(r.nfsRoot).toEqual({ server: '10.0.0.1', path: `/srv/bramble/nfs/${serial}`, version: '3' });
    // Every fetched file is byte-identical to the tree.
    for (const f of r.files) expect(f.sha256, f.path).toBe(sha256(tree.files.get(f.path)!));
    const fetched = r.files.map((f) => f.path);
    if (model.startsWith('pi3')) {
      expect(srv.requests.slice(0, 3)).toEqual(['bootcode.bin', 'bootsig.bin', `${serial}/start.elf`]);
      expect(fetched).toContain(`${serial}/start.elf`);
      expect(r.kernel).toBe(`${serial}/kernel8.img`);
    } else if (PI_MODEL_TABLE[model as PiModel].family === 'pi5') {
      expect(srv.requests[0]).toBe(`${serial}/config.txt`);
      expect(fetched.some((f) => f.includes('start'))).toBe(false);
      expect(r.kernel).toBe(`${serial}/kernel_2712.img`);
      expect(r.initramfs).toBe(`${serial}/initramfs_2712`);
      expect(r.files.find((f) => f.path.endsWith('kernel_2712.img'))?.options.blksize).toBe('1468');
    } else {
      expect(srv.requests[0]).toBe(`${serial}/start4.elf`);
      expect(fetched).toEqual(
        expect.arrayContaining([`${serial}/start4.elf`, `${serial}/fixup4.dat`, `${serial}/initramfs8`]),
      );
      expect(r.files.find((f) => f.path.endsWith('kernel8.img'))?.options.blksize).toBe('1024');
    }
    expect(fetched).toContain(`${serial}/overlays/vc4-kms-v3d.dtbo`);
    expect(r.totalBytes).toBeGreaterThan(100_000);
  });

  it('Pi 4 TFTP_PREFIX modes: MAC directory and custom string', async () => {
    const mac = 'dc:a6:32:01:36:c2';
    const t = await makeTftpTree({ dirs: ['dc-a6-32-01-36-c2', 'rack1'] });
    const s = await serve(t);
    try {
      const byMac = await bootVirtualPi({
        model: 'pi4',
        serial,
        mac,
        tftpPrefix: 'mac',
        dhcp: false,
        tftp: { host: '127.0.0.1', port: s.port },
      });
      expect(byMac.verdict, formatReport(byMac)).toBe('would boot');
      expect(byMac.prefix).toBe('dc-a6-32-01-36-c2/');
      const custom = await bootVirtualPi({
        model: 'pi5',
        serial,
        tftpPrefix: 'rack1/',
        dhcp: false,
        tftp: { host: '127.0.0.1', port: s.port },
      });
      expect(custom.verdict).toBe('would boot');
      expect(s.requests).toContain('rack1/config.txt');
    } finally {
      await s.server.close();
      await t.cleanup();
    }
  });

  it('Pi 5 falls back from kernel_2712.img to kernel8.img (and its initramfs8)', async () => {
    const t = await makeTftpTree({ dirs: [serial], omit: ['kernel_2712.img'] });
    const s = await serve(t);
    try {
      const r = await bootVirtualPi({
        model: 'pi5',
        serial,
        dhcp: false,
        tftp: { host: '127.0.0.1', port: s.port },
      });
      expect(r.verdict).toBe('would boot');
      expect(r.kernel).toBe(`${serial}/kernel8.img`);
      expect(r.initramfs).toBe(`${serial}/initramfs8`);
    } finally {
      await s.server.close();
      await t.cleanup();
    }
  });

  it('an aborted boot rejects with VirtualPiError ABORTED', async () => {
    const ac = new AbortController();
    const p = bootVirtualPi({
      model: 'pi3b',
      serial,
      dhcp: false,
      tftp: { host: '127.0.0.1', port: srv.port },
      signal: ac.signal,
    });
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'VirtualPiError', code: 'ABORTED' });
  });

  it('a kernel that does not arrive within TFTP_FILE_TIMEOUT stops the boot with a timeout verdict', async () => {
    const files = fsHandler(tree.root);
    const stalled: Readable[] = [];
    const server = createServer({
      handler: (req) => {
        if (!req.file.endsWith('kernel8.img')) return files(req);
        // 20 KB, then nothing: a server stuck reading a slow disk.
        const stream = new Readable({ read() {} });
        stream.push(Buffer.alloc(20_000, 1));
        stalled.push(stream);
        return { stream, size: 120_000 };
      },
    });
    const { port } = await server.listen({ address: '127.0.0.1', port: 0 });
    try {
      const r = await bootVirtualPi({
        model: 'pi4',
        serial,
        dhcp: false,
        tftp: { host: '127.0.0.1', port },
        tftpFileTimeoutMs: 1500,
      });
      expect(r.verdict).toBe('would not boot');
      expect(r.reason).toBe(
        `${serial}/kernel8.img: timed out (not complete within 1.5 s (TFTP_FILE_TIMEOUT))`,
      );
      expect(r.steps.at(-1)).toMatchObject({
        action: 'read',
        target: `${serial}/kernel8.img`,
        outcome: 'timeout',
      });
    } finally {
      for (const st of stalled) st.destroy();
      await server.close({ deadlineMs: 1000 });
    }
  });

  it('logs through the pino logger it is given (and only that one)', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    const r = await bootVirtualPi({
      model: 'pi5',
      serial,
      dhcp: false,
      tftp: { host: '127.0.0.1', port: srv.port },
      logger,
    });
    const finished = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'virtual-pi: boot finished');
    expect(finished).toMatchObject({ virtualPi: 'pi5', serial, verdict: r.verdict });
    expect(lines.some((l) => l.includes('kernel_2712.img'))).toBe(true);
  });
});
