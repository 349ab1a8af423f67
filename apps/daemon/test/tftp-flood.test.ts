/**
 * Issue 12, daemon wiring: requests for a manifest node's TFTP directory are 'known' to the TFTP server, so a
 * flood of never-answered requests from 50 unknown addresses cannot take the node's transfer slots.
 */

import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '@bramble/testkit';
import { encode, Opcode } from '@bramble/tftp';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../src/index.js';
import { manifestYaml, tempDir, tftpHpaGet, writeTree } from './helpers.js';

function boundSocket(address: string): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 4096 });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => resolve(socket));
  });
}

describe('brambled under a TFTP request flood', () => {
  it("serves a manifest node's boot files while 5,000 unknown requests hold the other slots", async () => {
    const dir = await tempDir('flood');
    const kernel = randomBytes(1024 * 1024);
    await writeTree(join(dir, 'state', 'tftp'), {
      'bootcode.bin': randomBytes(200_000),
      '1a2b3c01/start4.elf': 'start4',
      '1a2b3c01/kernel8.img': kernel,
    });
    await writeFile(
      join(dir, 'bramble.yaml'),
      manifestYaml({ stateDir: './state' }).replace(
        "tftp: { listen: '127.0.0.1:0' }",
        "tftp: { listen: '127.0.0.1:0', maxTransfers: 64 }",
      ),
    );
    const daemon = await startDaemon({
      manifestPath: join(dir, 'bramble.yaml'),
      watch: false,
      httpListen: false,
    });
    const sockets: Socket[] = [];
    try {
      const port = daemon.tftpAddress().port;
      const request = encode({
        op: Opcode.RRQ,
        filename: 'bootcode.bin',
        mode: 'octet',
        options: { tsize: '0' },
      });
      for (let a = 1; a <= 50; a++)
        for (let i = 0; i < 100; i++) {
          const socket = await boundSocket(`127.0.2.${a}`);
          sockets.push(socket);
          socket.send(request, port, '127.0.0.1');
        }
      expect(sockets.length).toBe(5000);
      // The flood has been read off the listening socket and holds every unreserved slot (64 - 16).
      await waitFor(() => daemon.metrics.requests >= 48, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(daemon.metrics.requests).toBe(48);
      const started = performance.now();
      expect((await tftpHpaGet(port, '1a2b3c01/kernel8.img', dir, 20_000)).equals(kernel)).toBe(true);
      // Served at once, not after the flood's transfers gave up (5 s).
      expect(performance.now() - started).toBeLessThan(4500);
    } finally {
      for (const s of sockets) s.close();
      await daemon.close({ deadlineMs: 0 });
    }
  }, 120_000);
});
