/**
 * The package's client against real servers on loopback: tftpd-hpa (`in.tftpd`) and dnsmasq's TFTP server.
 */
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freeUdpPort, type Peer, requireTool, startPeer, waitFor } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFile, get, probeSize, put, TftpRemoteError } from '../src/index.js';
import { makeFile, SIZES, sha256, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
const sums: Record<string, string> = {};
const peers: Peer[] = [];
let hpaPort: number;
// dnsmasq 2.90 has no --tftp-port: it serves port 69, so it gets a loopback address of its own.
const dnsmasqAddr = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
const dnsmasqPort = 69;

async function udpBound(port: number, addr = '127.0.0.1'): Promise<string[]> {
  const r = await execa('ss', ['-H', '-uapn', `src ${addr} or sport = :${port}`], { reject: false });
  return r.stdout.split('\n').filter(Boolean);
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('client'));
  await chmod(dir, 0o755);
  for (const [name, size] of Object.entries(SIZES)) sums[name] = await makeFile(join(dir, name), size);
  await mkdir(join(dir, 'upload'), { mode: 0o777 });
  await chmod(join(dir, 'upload'), 0o777);

  hpaPort = await freeUdpPort();
  peers.push(
    startPeer([
      requireTool('in.tftpd'),
      '-L',
      '-c',
      '-p',
      '-u',
      'root',
      '-s',
      dir,
      '-a',
      `127.0.0.1:${hpaPort}`,
    ]),
  );
  peers.push(
    startPeer([
      requireTool('dnsmasq'),
      '-d',
      '-C',
      '/dev/null',
      '--port=0',
      '-u',
      'root',
      '--pid-file',
      `--listen-address=${dnsmasqAddr}`,
      '--bind-interfaces',
      '--enable-tftp',
      `--tftp-root=${dir}`,
    ]),
  );
  await waitFor(
    async () => (await udpBound(hpaPort)).length > 0 && (await udpBound(0, dnsmasqAddr)).length > 0,
    10_000,
  );
});
afterAll(async () => {
  for (const p of peers) await p.stop();
  await cleanup?.();
});

describe('dnsmasq peer', () => {
  it('binds only to its loopback address', async () => {
    const pid = peers[1]?.proc.pid;
    const r = await execa('ss', ['-H', '-uatpn'], { reject: false });
    const mine = r.stdout.split('\n').filter((l) => l.includes(`pid=${pid},`));
    expect(mine.length).toBeGreaterThan(0);
    for (const l of mine) expect(l).toContain(`${dnsmasqAddr}:`);
  });

  it.each([[512], [1024], [1468], [65464]])(
    'fetchFile every size at blksize %i, byte-identical',
    async (blksize) => {
      for (const name of Object.keys(SIZES)) {
        const { data, stats } = await fetchFile(dnsmasqAddr, name, {
          port: dnsmasqPort,
          blksize,
          tsize: true,
        });
        expect(sha256(data), name).toBe(sums[name]);
        expect(stats.options.tsize).toBe(String(SIZES[name as keyof typeof SIZES]));
      }
    },
  );

  it('probeSize returns tsize and dnsmasq accepts the early terminate', async () => {
    const r = await probeSize(dnsmasqAddr, 'm3', { port: dnsmasqPort, blksize: 1024 });
    expect(r.size).toBe(SIZES.m3);
    expect(r.options.blksize).toBe('1024');
    // The server is still healthy afterwards.
    const { data } = await fetchFile(dnsmasqAddr, 's513', { port: dnsmasqPort });
    expect(sha256(data)).toBe(sums.s513);
  });

  it('missing file is a TftpRemoteError with tftpCode 1', async () => {
    const e = await fetchFile(dnsmasqAddr, 'nope.bin', { port: dnsmasqPort, tsize: true }).catch((x) => x);
    expect(e).toBeInstanceOf(TftpRemoteError);
    expect((e as TftpRemoteError).tftpCode).toBe(1);
    expect((e as TftpRemoteError).code).toBe('REMOTE_ERROR');
  });
});

describe('tftpd-hpa peer', () => {
  it.each([[512], [1468], [65464]])('fetchFile every size at blksize %i, byte-identical', async (blksize) => {
    for (const name of Object.keys(SIZES)) {
      const { data } = await fetchFile('127.0.0.1', name, {
        port: hpaPort,
        blksize,
        tsize: true,
        timeout: 2,
      });
      expect(sha256(data), name).toBe(sums[name]);
    }
  });

  it('plain RFC 1350 get (no options), as the Pi 3 ROM fetches bootcode.bin', async () => {
    const s = get('127.0.0.1', 'm3', { port: hpaPort });
    const parts: Buffer[] = [];
    for await (const c of s) parts.push(c as Buffer);
    const stats = await s.done;
    expect(sha256(Buffer.concat(parts))).toBe(sums.m3);
    expect(stats.options).toEqual({});
    expect(stats.blocks).toBe(Math.floor(SIZES.m3 / 512) + 1);
  });

  it('windowsize is not echoed by tftp-hpa 5.2, so the client falls back to lock-step', async () => {
    const { data, stats } = await fetchFile('127.0.0.1', 'm3', {
      port: hpaPort,
      blksize: 1468,
      windowsize: 16,
    });
    expect(sha256(data)).toBe(sums.m3);
    expect(stats.options.windowsize).toBeUndefined();
    expect(stats.options.blksize).toBe('1468');
  });

  it('probeSize and missing file', async () => {
    expect((await probeSize('127.0.0.1', 's511', { port: hpaPort })).size).toBe(511);
    const e = await fetchFile('127.0.0.1', 'missing', { port: hpaPort }).catch((x) => x);
    expect(e).toBeInstanceOf(TftpRemoteError);
    expect((e as TftpRemoteError).tftpCode).toBe(1);
  });

  it('put uploads byte-identical files (Buffer and stream, with tsize)', async () => {
    const src = await readFile(join(dir, 'm3'));
    const st = await put('127.0.0.1', 'upload/m3.bin', src, { port: hpaPort, blksize: 1024, tsize: true });
    expect(st.bytes).toBe(src.length);
    expect(st.options.tsize).toBe(String(src.length));
    await waitFor(async () => (await readFile(join(dir, 'upload/m3.bin'))).length === src.length, 5000);
    expect(sha256(await readFile(join(dir, 'upload/m3.bin')))).toBe(sums.m3);
    const { Readable } = await import('node:stream');
    const small = await readFile(join(dir, 's513'));
    await put('127.0.0.1', 'upload/s513.bin', Readable.from([small.subarray(0, 100), small.subarray(100)]), {
      port: hpaPort,
    });
    await waitFor(async () => (await readFile(join(dir, 'upload/s513.bin'))).length === 513, 5000);
    expect(sha256(await readFile(join(dir, 'upload/s513.bin')))).toBe(sums.s513);
  });
});
