/**
 * Issue 17 through the CLI: `node add --root shared` on a real disk image (sfdisk, mkfs.vfat + mtools,
 * mkfs.ext4 -d), then `image update` with a second real image: the new base is extracted beside the old
 * one, the node's cmdline names it, its machine-id survives, and the report lists what its layer
 * overrides that the new base changed.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { bramble, buildPiImage, piOsRoot, tempDir } from './helpers.js';

let work: string;
let oldImg: string;
let newImg: string;

beforeAll(async () => {
  for (const tool of ['sfdisk', 'mkfs.ext4', 'mkfs.vfat', 'mcopy', 'mke2fs', 'debugfs', 'ssh-keygen', 'dd'])
    requireTool(tool);
  work = await tempDir('update');
  oldImg = await buildPiImage(join(work, 'old'), piOsRoot('old\n'));
  newImg = await buildPiImage(
    join(work, 'new'),
    piOsRoot('new motd\n', 'svc-new:x:990:990::/:/usr/sbin/nologin\n'),
  );
}, 120_000);

describe('bramble node add --root shared / image update', () => {
  it('provisions a shared node, then moves it to a new base with a report', async () => {
    const config = join(work, 'bramble.yaml');
    const state = join(work, 'state');
    const add = await bramble([
      '--config',
      config,
      'node',
      'add',
      'n1',
      '--serial',
      'cccc0001',
      '--image',
      oldImg,
      '--nfs-server',
      '10.0.0.1',
      '--state',
      state,
      '--root',
      'shared',
      '--user',
      'alice',
      '--password-hash',
      '$6$salt$hash',
    ]);
    expect(add.stderr).not.toMatch(/error|warn/i);
    expect(add.exitCode).toBe(0);
    expect(add.stdout).toContain('NFS layer (shared root)');
    expect(await readFile(config, 'utf8')).toMatch(/root: shared/);
    const layer = join(state, 'nfs', 'n1');
    expect(await readFile(join(layer, 'identity/etc/hostname'), 'utf8')).toBe('n1\n');
    const machineId = await readFile(join(layer, 'identity/etc/machine-id'), 'utf8');
    const tftp = join(state, 'tftp', 'cccc0001', 'cmdline.txt');
    const imageName = (await readdir(join(state, 'images'))).find((d) => !d.includes('@')) as string;
    expect(await readFile(tftp, 'utf8')).toContain(
      `bramble.base=10.0.0.1:${join(state, 'images', imageName, 'root')}`,
    );

    const check = await bramble(['--config', config, '--json', 'node', 'check', 'n1']);
    const problems = JSON.parse(check.stdout) as { message: string }[];
    // fstab and hostname are read from the layer's identity, the nfsroot (the base) exists.
    expect(problems.map((p) => p.message).join('\n')).not.toMatch(
      /fstab|hostname|does not exist|not a root/i,
    );

    const bad = await bramble([
      '--config',
      config,
      'node',
      'add',
      'n2',
      '--serial',
      'cccc0002',
      '--image',
      imageName,
      '--root',
      'layered',
    ]);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/root/);

    const up = await bramble(['--config', config, '--json', 'image', 'update', imageName, newImg]);
    expect(up.stderr).not.toMatch(/error|warn/i);
    expect(up.exitCode).toBe(0);
    const report = JSON.parse(up.stdout) as {
      nodes: { node: string; to: string; overrides: { path: string; change: string }[] }[];
    };
    const n1 = report.nodes.find((n) => n.node === 'n1');
    expect(n1?.to).toMatch(new RegExp(`${imageName}@\\d{8}T\\d{6}Z/root$`));
    expect(n1?.overrides).toContainEqual({ path: '/etc/passwd', source: 'identity', change: 'modified' });
    expect(n1?.overrides.map((o) => o.path)).not.toContain('/etc/motd'); // not overridden by the layer
    expect(await readFile(tftp, 'utf8')).toContain(`bramble.base=10.0.0.1:${n1?.to}`);
    expect(await readFile(join(n1?.to as string, 'etc/motd'), 'utf8')).toBe('new motd\n');
    expect(await readFile(join(layer, 'identity/etc/machine-id'), 'utf8')).toBe(machineId);
    expect(await readFile(join(layer, 'identity/etc/passwd'), 'utf8')).toMatch(/^svc-new:/m);
    // The old base is kept (running nodes use it until they reboot).
    expect(existsSync(join(state, 'images', imageName, 'root/etc/motd'))).toBe(true);
    const unknown = await bramble(['--config', config, 'image', 'update', 'nope', newImg]);
    expect(unknown.exitCode).not.toBe(0);
  }, 240_000);
});
