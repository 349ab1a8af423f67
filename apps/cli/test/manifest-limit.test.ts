/** The CLI reads bramble.yaml through @bramble/manifest's bounded reader: for commands and for edits. */
import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bramble, tempDir } from './helpers.js';

const LIMIT_LINE = '1 problem:\n  larger than the 1048576-byte manifest limit; a bramble.yaml is a few KiB';

describe('bramble and an oversized manifest', () => {
  it('refuses to read a 150 MB bramble.yaml (exit 1, the file and the limit named)', async () => {
    const dir = await tempDir('big');
    const file = join(dir, 'bramble.yaml');
    await writeFile(file, 'server: { address: 10.0.0.1 }\n# ');
    await truncate(file, 150 * 1000 * 1000);
    const r = await bramble(['-c', file, 'node', 'ls']);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toBe(`bramble: invalid manifest ${file}: ${LIMIT_LINE}`);
  }, 60_000);

  it('refuses to edit one (node add) and leaves it as it was', async () => {
    const dir = await tempDir('big-edit');
    const file = join(dir, 'bramble.yaml');
    const text = `server: { address: 10.0.0.1 }\nnodes: []\n# ${'x'.repeat(1024 * 1024)}\n`;
    await writeFile(file, text);
    const r = await bramble(['-c', file, 'node', 'add', 'rpi-b', '--serial', '12345678', '--image', 'img']);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain(LIMIT_LINE);
    expect((await stat(file)).size).toBe(Buffer.byteLength(text));
    expect(await readFile(file, 'utf8')).toBe(text);
  }, 60_000);
});
