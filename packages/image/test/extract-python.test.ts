/**
 * Directory extraction needs python3 (device nodes, fifos, xattrs and nanosecond times have no
 * Node API; Node's utimes keeps neither ns nor exact µs): without it, extraction fails up front
 * with MissingProgramError (MISSING_PROGRAM) before anything is decompressed or written, and tar
 * extraction still works. python3 is hidden for real: the extraction runs in a private mount
 * namespace where /usr/bin/python3 is covered by a bind mount.
 */
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot, requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from './ext4-tree.js';
import { buildExt4, writeTree } from './helpers/images.js';

const PACKAGE = join(import.meta.dirname, '..');
const INDEX = join(PACKAGE, 'src', 'index.ts');

let work: string;
let image: string;
let script: string;
beforeAll(async () => {
  work = await mkdtemp(join(scratchDir(), 'bramble-python-'));
  const tree = await writeTree(join(work, 'tree'), { 'etc/hostname': 'pi\n', 'usr/bin/tool': 'x' });
  image = await buildExt4(join(work, 'root.ext4'), { sizeMiB: 8, fromDir: tree });
  script = join(work, 'run.mts');
  await writeFile(
    script,
    `import { extract } from ${JSON.stringify(INDEX)};
const [image, to, format] = process.argv.slice(2);
try {
  const r = await extract(image, { partition: 1, to, format });
  console.log(JSON.stringify({ ok: true, files: r.files }));
} catch (e) {
  console.log(JSON.stringify({ name: e.name, code: e.code, program: e.program, message: e.message }));
}
`,
  );
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Run the extraction with /usr/bin/python3 replaced by `cover` (bind mount, private namespace). */
async function withoutPython(cover: string, to: string, format: 'dir' | 'tar') {
  const unshare = requireTool('unshare');
  const command = [
    `mount --bind ${cover} /usr/bin/python3`,
    `exec env PATH=/usr/bin:/bin ${process.execPath} --import tsx ${script} ${image} ${to} ${format}`,
  ].join(' && ');
  const r = await execa(unshare, ['--mount', '--propagation', 'private', 'sh', '-c', command], {
    cwd: PACKAGE,
    reject: false,
    timeout: 120_000,
  });
  const last = String(r.stdout).trim().split('\n').pop() ?? '';
  return JSON.parse(last || '{}') as {
    ok?: boolean;
    name?: string;
    code?: string;
    program?: string;
    message?: string;
  };
}

describe.runIf(isRoot())('python3 for directory extraction', () => {
  it('missing: MISSING_PROGRAM up front, nothing written; tar extraction still works', async () => {
    const parent = await mkdtemp(join(work, 'out-'));
    const r = await withoutPython('/dev/null', join(parent, 'root'), 'dir');
    expect(r).toMatchObject({ name: 'MissingProgramError', code: 'MISSING_PROGRAM', program: 'python3' });
    expect(r.message).toMatch(/python3/);
    expect(r.message).toMatch(/tar/);
    expect(await readdir(parent)).toEqual([]);
    const tar = await withoutPython('/dev/null', join(parent, 'root.tar'), 'tar');
    expect(tar.ok).toBe(true);
  });

  it('installed but broken: MISSING_PROGRAM naming it', async () => {
    const broken = join(work, 'broken-python3');
    await writeFile(broken, '#!/bin/sh\nexit 3\n');
    await chmod(broken, 0o755);
    const parent = await mkdtemp(join(work, 'out-'));
    const r = await withoutPython(broken, join(parent, 'root'), 'dir');
    expect(r.code).toBe('MISSING_PROGRAM');
    expect(r.message).toMatch(/does not run \(3\)/);
    expect(await readdir(parent)).toEqual([]);
  });

  it('present: the same extraction succeeds (the test is not fooling itself)', async () => {
    const parent = await mkdtemp(join(work, 'out-'));
    const r = await execa(process.execPath, ['--import', 'tsx', script, image, join(parent, 'root'), 'dir'], {
      cwd: PACKAGE,
    });
    expect(JSON.parse(String(r.stdout).trim())).toMatchObject({ ok: true });
  });
});
