/** fsWriteHandler edge cases: directories made inside the root only, no-clobber commit, aborted uploads. */
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsWriteHandler, type RequestContext } from '../src/index.js';

let base: string;
const req = (file: string): RequestContext => ({
  file,
  requestedFile: file,
  mode: 'octet',
  options: {},
  remoteAddress: '127.0.0.1',
  remotePort: 1,
  localAddress: '127.0.0.1',
});
const finish = (w: Writable) =>
  new Promise<void>((resolve, reject) => w.end((e?: Error | null) => (e ? reject(e) : resolve())));

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tftp-wh-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('fsWriteHandler', () => {
  it('createDirectories makes missing directories inside the root, none through a symlink leading out', async () => {
    const root = join(base, 'r1');
    const outside = join(base, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await symlink(outside, join(root, 'escape'));
    await mkdir(join(root, 'real'));
    await symlink('real', join(root, 'inner')); // a symlink that stays inside is fine
    const handler = fsWriteHandler(root, { createDirectories: true });
    await expect(handler(req('escape/a/b/c.txt'))).rejects.toMatchObject({ tftpCode: 2 });
    expect(await readdir(outside)).toEqual([]);
    const w = (await handler(req('inner/x/y.txt'))) as Writable;
    w.write(Buffer.from('hello'));
    await finish(w);
    expect(await readFile(join(root, 'real/x/y.txt'), 'utf8')).toBe('hello');
    // without the option, a missing directory is refused
    await expect(fsWriteHandler(root)(req('missing/z.txt'))).rejects.toMatchObject({ tftpCode: 2 });
  });

  it('a file that appears under the name during the upload is never replaced (FILE_EXISTS)', async () => {
    const root = join(base, 'r2');
    await mkdir(root);
    const w = (await fsWriteHandler(root)(req('f.bin'))) as Writable;
    w.on('error', () => {});
    w.write(Buffer.alloc(1000, 1));
    await writeFile(join(root, 'f.bin'), 'someone else\n');
    await expect(finish(w)).rejects.toMatchObject({ code: 'FILE_EXISTS' });
    expect(await readFile(join(root, 'f.bin'), 'utf8')).toBe('someone else\n');
    expect(await readdir(root)).toEqual(['f.bin']);
  });

  it('an aborted upload (destroyed stream) leaves neither the final name nor the temporary file', async () => {
    const root = join(base, 'r3');
    await mkdir(root);
    const w = (await fsWriteHandler(root)(req('g.bin'))) as Writable;
    w.on('error', () => {});
    w.write(Buffer.alloc(5000, 2));
    w.destroy(new Error('transfer aborted'));
    // The file stream opens asynchronously: give it time to create (and the cleanup to remove) the file.
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 50 && (await readdir(root)).length > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await readdir(root)).toEqual([]);
  });
});
