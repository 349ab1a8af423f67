/** fsHandler root confinement: a path traversal table, checked on the handler and on the wire. */
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot } from '@bramble/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFile, fsHandler, safeComponents, TftpRequestError } from '../src/index.js';
import { startServer, type TestServer, tempDir } from './helpers.js';

let base: string;
let root: string;
let cleanup: () => Promise<void>;
let srv: TestServer;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('fs'));
  root = join(base, 'root');
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(join(base, 'root-private'));
  await writeFile(join(root, 'ok.txt'), 'ok');
  await writeFile(join(root, 'sub', 'nested.txt'), 'nested');
  await writeFile(join(base, 'outside'), 'outside');
  await writeFile(join(base, 'root-private', 'secret'), 'secret');
  await symlink('../outside', join(root, 'link-out'));
  await symlink(join(base, 'root-private', 'secret'), join(root, 'link-private'));
  await symlink('sub/nested.txt', join(root, 'link-in'));
  await symlink('/dev/null', join(root, 'link-dev'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  if (isRoot()) execFileSync('mknod', [join(root, 'nulldev'), 'c', '1', '3']);
  srv = await startServer(root);
});
afterAll(async () => {
  await srv?.close();
  await cleanup?.();
});

// [requested name, expected content or TFTP error code]
const TABLE: [string, string | 1 | 2][] = [
  ['ok.txt', 'ok'],
  ['/ok.txt', 'ok'],
  ['//ok.txt', 'ok'],
  ['sub/nested.txt', 'nested'],
  ['/sub/./nested.txt', 'nested'],
  ['\\sub\\nested.txt', 'nested'],
  ['sub\\nested.txt', 'nested'],
  ['link-in', 'nested'],
  ['../outside', 2],
  ['..\\outside', 2],
  ['/../outside', 2],
  ['sub/../ok.txt', 2],
  ['sub/../../outside', 2],
  ['\\..\\..\\etc\\passwd', 2],
  ['link-out', 2],
  ['link-private', 2],
  ['link-dev', 2],
  ['fifo', 2],
  ['sub', 2],
  ['/', 2],
  ['missing', 1],
  ['sub/missing/x', 1],
  ['ok.txt/x', 1],
  ...(isRoot() ? ([['nulldev', 2]] as [string, 2][]) : []),
];

describe('path traversal table', () => {
  it.each(TABLE)('%j → %j (handler)', async (name, want) => {
    const h = fsHandler(root);
    const ctx = {
      file: name,
      requestedFile: name,
      mode: 'octet' as const,
      options: {},
      remoteAddress: '127.0.0.1',
      remotePort: 1,
      localAddress: '127.0.0.1',
    };
    if (typeof want === 'string') {
      const src = await h(ctx);
      expect(src).not.toBeNull();
      const s = src as { size: number; buffer?: Buffer; close(): unknown };
      expect(s.size).toBe(want.length);
      await s.close();
    } else {
      const e = await Promise.resolve()
        .then(() => h(ctx))
        .catch((x) => x);
      expect(e).toBeInstanceOf(TftpRequestError);
      expect((e as TftpRequestError).tftpCode).toBe(want);
    }
  });

  it('the same table over the wire with the own client', async () => {
    for (const [name, want] of TABLE) {
      if (typeof want === 'string') {
        const { data } = await fetchFile('127.0.0.1', name, { port: srv.port });
        expect(data.toString(), name).toBe(want);
      } else {
        await expect(fetchFile('127.0.0.1', name, { port: srv.port }), name).rejects.toMatchObject({
          tftpCode: want,
        });
      }
    }
  });

  it('NUL bytes and empty names are refused', () => {
    expect(() => safeComponents('ok.txt\0.png')).toThrowError(/NUL/);
    expect(() => safeComponents('')).toThrowError(TftpRequestError);
    expect(() => safeComponents('./.')).toThrowError(TftpRequestError);
    expect(safeComponents('\\a//b\\.\\c')).toEqual(['a', 'b', 'c']);
  });

  it('serves a large file through positioned reads (above the cache limit) and small ones from the cache', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    await writeFile(join(root, 'big.bin'), big);
    const h = fsHandler(root, { cacheFileMax: 1024 * 1024 });
    const ctx = {
      file: 'big.bin',
      requestedFile: 'big.bin',
      mode: 'octet' as const,
      options: {},
      remoteAddress: '127.0.0.1',
      remotePort: 1,
      localAddress: '127.0.0.1',
    };
    const s = (await h(ctx)) as { buffer?: Buffer; size: number; close(): Promise<void> };
    expect(s.buffer).toBeUndefined();
    await s.close();
    const small = (await h({ ...ctx, file: 'ok.txt' })) as { buffer?: Buffer };
    expect(small.buffer?.toString()).toBe('ok');
    const { data } = await fetchFile('127.0.0.1', 'big.bin', {
      port: srv.port,
      blksize: 1468,
      windowsize: 8,
    });
    expect(data.equals(big)).toBe(true);
  });
});

describe('fsWriteHandler', () => {
  it('stores uploads atomically inside the root, refuses overwrite, traversal and missing directories', async () => {
    const { fsWriteHandler, put } = await import('../src/index.js');
    const { mkdir: mk, readFile, readdir } = await import('node:fs/promises');
    const up = join(base, 'uploads');
    await mk(join(up, 'sub'), { recursive: true });
    const server = (await import('../src/index.js')).createServer({
      handler: fsHandler(up),
      writeHandler: fsWriteHandler(up, { maxBytes: 100_000 }),
      timeoutMs: 200,
    });
    const { port } = await server.listen({ address: '127.0.0.1', port: 0 });
    try {
      const data = Buffer.alloc(50_000, 3);
      await put('127.0.0.1', '\\sub\\a.bin', data, { port, blksize: 1468, tsize: true });
      expect((await readFile(join(up, 'sub', 'a.bin'))).equals(data)).toBe(true);
      await expect(put('127.0.0.1', 'sub/a.bin', data, { port })).rejects.toMatchObject({ tftpCode: 6 });
      await expect(put('127.0.0.1', '../escape', data, { port })).rejects.toMatchObject({ tftpCode: 2 });
      await expect(put('127.0.0.1', 'nodir/x', data, { port })).rejects.toMatchObject({ tftpCode: 2 });
      await expect(
        put('127.0.0.1', 'big', Buffer.alloc(200_000), { port, blksize: 1468, tsize: true }),
      ).rejects.toMatchObject({ tftpCode: 3 });
      await expect(
        put('127.0.0.1', 'big2', Buffer.alloc(200_000), { port, blksize: 1468 }),
      ).rejects.toMatchObject({
        tftpCode: 3,
      });
      await new Promise((r) => setTimeout(r, 100));
      expect((await readdir(up)).filter((f) => f.endsWith('.part'))).toEqual([]);
      expect(await readdir(up)).not.toContain('big2');
    } finally {
      await server.close({ deadlineMs: 100 });
    }
  });
});
