import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('the packed brambled package', () => {
  it('ships the systemd units npm users install from $(npm root -g)/brambled/systemd/', async () => {
    // npm's own file list for the tarball (`files` in package.json); scripts skipped, nothing written.
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: packageDir,
      timeout: 60_000,
    });
    const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
    const paths = (pack?.files ?? []).map((file) => file.path);
    expect(paths).toEqual(expect.arrayContaining(['systemd/brambled.socket', 'systemd/brambled.service']));
  }, 90_000);
});
