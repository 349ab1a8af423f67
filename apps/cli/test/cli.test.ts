import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '..', 'dist', 'index.js');

describe('bramble binary', () => {
  it('prints --help and exits 0', async () => {
    const r = await execa('node', [bin, '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Usage: bramble');
  });
  it('prints --version and exits 0', async () => {
    const r = await execa('node', [bin, '--version']);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
  it('exits 2 on an unknown command', async () => {
    const r = await execa('node', [bin, 'no-such-command'], { reject: false });
    expect(r.exitCode).toBe(2);
  });
});
