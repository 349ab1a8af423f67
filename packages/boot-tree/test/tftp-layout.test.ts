import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort, isRoot, type Peer, requireTool, startPeer, waitFor } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeLayout, provisionNode } from '../src/index.js';
import { makeImage } from './helpers/synthetic-image.js';

/**
 * The TFTP tree as a Pi sees it: tftpd-hpa (chrooted to the TFTP root, on loopback) serves it and the
 * tftp-hpa client fetches what a Pi 3 and a Pi 4 ask for, through hard links (default) and symlinks.
 */
describe.runIf(isRoot())('TFTP tree served by tftpd-hpa', () => {
  let work: string;
  let peer: Peer | undefined;
  let port: number;
  const layouts: NodeLayout[] = [];

  async function tftpGet(file: string): Promise<Buffer> {
    const out = join(work, `got-${Math.random().toString(36).slice(2)}`);
    const r = await execa('tftp', ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', file, out], {
      reject: false,
      timeout: 20_000,
    });
    const data = await readFile(out).catch(() => undefined);
    if (!data || /Error|not found/i.test(`${r.stdout}${r.stderr}`)) {
      throw new Error(`tftp get ${file}: ${r.stdout}${r.stderr}`);
    }
    return data;
  }

  beforeAll(async () => {
    requireTool('in.tftpd');
    requireTool('tftp');
    work = await mkdtemp(join(tmpdir(), 'bt-tftp-'));
    const image = { name: 'bookworm-lite', ...(await makeImage(join(work, 'img'), 'bookworm')) };
    const common = {
      image,
      tftpRoot: join(work, 'tftp'),
      nfsRoot: join(work, 'nfs'),
      nfsServer: '127.0.0.1',
      hostKeyTypes: [],
    };
    layouts.push(
      await provisionNode({
        ...common,
        node: { hostname: 'pi4a', serial: 'd9780558', image: 'bookworm-lite' },
      }),
      await provisionNode({
        ...common,
        linkMode: 'symlink',
        node: { hostname: 'pi4b', mac: 'dc:a6:32:01:36:c2', image: 'bookworm-lite' },
      }),
    );
    port = await freeUdpPort();
    peer = startPeer(['in.tftpd', '-L', '-s', '-a', `127.0.0.1:${port}`, join(work, 'tftp')]);
    await waitFor(
      async () =>
        tftpGet('bootcode.bin').then(
          () => true,
          () => false,
        ),
      15_000,
      200,
    );
  }, 60_000);

  afterAll(async () => {
    await peer?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('serves bootcode.bin at the root (Pi 3 boot ROM) and each node its own cmdline.txt', async () => {
    const img = join(work, 'img/boot');
    expect((await tftpGet('bootcode.bin')).equals(await readFile(join(img, 'bootcode.bin')))).toBe(true);
    for (const l of layouts) {
      expect((await tftpGet(`${l.tftpDirName}/cmdline.txt`)).toString()).toBe(l.cmdline);
    }
  });

  it('serves the shared firmware, dtb, overlays and kernel under each node prefix (hard links and symlinks)', async () => {
    const img = join(work, 'img/boot');
    for (const l of layouts) {
      for (const f of [
        'start4.elf',
        'fixup4.dat',
        'config.txt',
        'bcm2711-rpi-4-b.dtb',
        'overlays/vc4-kms-v3d.dtbo',
        'kernel8.img',
      ]) {
        const got = await tftpGet(`${l.tftpDirName}/${f}`);
        expect(got.equals(await readFile(join(img, f))), `${l.tftpDirName}/${f}`).toBe(true);
      }
    }
  });
});
