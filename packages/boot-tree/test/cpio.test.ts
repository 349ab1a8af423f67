/**
 * The newc cpio writer against Debian's cpio as the oracle: `cpio -t` lists what was written, `cpio -i`
 * extracts it with the same contents, modes and symlink targets; and the kernel's concatenation rule
 * (a gzip archive, zero padding to 4 bytes, then ours) read back by cpio after gunzip.
 */
import { lstat, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CpioEntry, writeCpio } from '../src/cpio.js';

let work: string;
beforeAll(async () => {
  requireTool('cpio');
  work = await mkdtemp(join(tmpdir(), 'bt-cpio-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const binary = Buffer.from(Array.from({ length: 1031 }, (_, i) => (i * 7) % 256));
const entries: CpioEntry[] = [
  { type: 'directory', path: 'bramble' },
  { type: 'directory', path: 'bramble/modules', mode: 0o700 },
  { type: 'file', path: 'bramble/modules/overlay.ko', data: binary },
  { type: 'file', path: 'bramble/empty', data: '' },
  { type: 'file', path: 'scripts-bramble', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
  { type: 'symlink', path: 'bramble/insmod', target: '/bin/kmod' },
  // Name lengths around the 4-byte padding boundary (110-byte header + name + NUL).
  { type: 'file', path: 'a', data: 'x' },
  { type: 'file', path: 'ab', data: 'xy' },
  { type: 'file', path: 'abc', data: 'xyz' },
  { type: 'file', path: 'abcd', data: 'wxyz' },
];

describe('writeCpio (newc)', () => {
  it('cpio -t lists every entry in order, and the archive length is a multiple of 4', async () => {
    const archive = writeCpio(entries);
    expect(archive.length % 4).toBe(0);
    const listed = await execa('cpio', ['-t', '--quiet'], { input: archive });
    expect(listed.stdout.split('\n')).toEqual(entries.map((e) => e.path));
    const verbose = await execa('cpio', ['-tv', '--quiet'], { input: archive });
    expect(verbose.stdout).toMatch(/^drwx------ .* bramble\/modules$/m);
    expect(verbose.stdout).toMatch(/^-rwxr-xr-x .* scripts-bramble$/m);
    expect(verbose.stdout).toMatch(/^lrwxrwxrwx .* bramble\/insmod -> \/bin\/kmod$/m);
  });

  it('cpio -i extracts the same contents, modes and symlink targets', async () => {
    const dir = await mkdtemp(join(work, 'x-'));
    await execa('cpio', ['-i', '--quiet', '--no-absolute-filenames', '-D', dir], {
      input: writeCpio(entries),
    });
    expect((await readFile(join(dir, 'bramble/modules/overlay.ko'))).equals(binary)).toBe(true);
    expect(await readFile(join(dir, 'bramble/empty'), 'utf8')).toBe('');
    expect(await readFile(join(dir, 'abcd'), 'utf8')).toBe('wxyz');
    expect((await lstat(join(dir, 'scripts-bramble'))).mode & 0o7777).toBe(0o755);
    expect((await lstat(join(dir, 'bramble/modules/overlay.ko'))).mode & 0o7777).toBe(0o644);
    expect((await lstat(join(dir, 'bramble/modules'))).mode & 0o7777).toBe(0o700);
    expect(await readlink(join(dir, 'bramble/insmod'))).toBe('/bin/kmod');
  });

  it('same entries, same bytes', () => {
    expect(writeCpio(entries).equals(writeCpio(entries))).toBe(true);
  });

  it('appended after a gzip archive (zero-padded to 4 bytes), both parts are read back', async () => {
    const first = await execa('cpio', ['-o', '-H', 'newc', '--quiet'], {
      input: 'cpio.test.ts\n',
      cwd: import.meta.dirname,
      encoding: 'buffer',
    });
    const gz = gzipSync(Buffer.from(first.stdout as Uint8Array));
    const joined = Buffer.concat([gz, Buffer.alloc((4 - (gz.length % 4)) % 4), writeCpio(entries)]);
    const file = join(work, 'joined.img');
    await writeFile(file, joined);
    // What the kernel does: unpack the compressed part, then the uncompressed one after it.
    const head = await execa('sh', ['-c', `gzip -dc < ${file} 2>/dev/null | cpio -t --quiet`], {
      reject: false,
    });
    expect(head.stdout.trim()).toBe('cpio.test.ts');
    const tail = await execa('cpio', ['-t', '--quiet'], {
      input: joined.subarray(joined.length - writeCpio(entries).length),
    });
    expect(tail.stdout.split('\n')).toEqual(entries.map((e) => e.path));
  });

  it('refuses absolute, dotted, empty and duplicate names with INVALID_INPUT', () => {
    for (const path of ['/etc/passwd', '../x', 'a/../b', 'a//b', '', './a', 'a\0b']) {
      expect(() => writeCpio([{ type: 'file', path, data: '' }])).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT' }),
      );
    }
    expect(() =>
      writeCpio([
        { type: 'file', path: 'a', data: '' },
        { type: 'file', path: 'a', data: '' },
      ]),
    ).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => writeCpio([{ type: 'symlink', path: 'a', target: '' }])).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });
});
