/**
 * `bramble node add --host-keys`: the node gets exactly the SSH host key types asked for (read back with
 * ssh-keygen, the oracle), the choice is kept in the manifest for re-provisioning, and a bad list is a
 * usage error that leaves nothing behind.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTool } from '@bramble/testkit';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { bramble, buildPiImage, piOsRoot, tempDir } from './helpers.js';

let work: string;
let image: string;

beforeAll(async () => {
  for (const tool of ['sfdisk', 'mkfs.ext4', 'mkfs.vfat', 'mcopy', 'ssh-keygen', 'dd']) requireTool(tool);
  work = await tempDir('hostkeys');
  image = await buildPiImage(join(work, 'img'), piOsRoot('hostkeys\n'));
}, 120_000);

describe('bramble node add --host-keys', () => {
  it('makes only the types asked for, stores them in the manifest, refuses unknown types', async () => {
    const config = join(work, 'bramble.yaml');
    const state = join(work, 'state');
    const cli = (...args: string[]) => bramble(['--config', config, ...args]);
    const base = ['--image', image, '--nfs-server', '10.0.0.1', '--state', state];

    const bad = await cli('node', 'add', 'k0', '--serial', 'eeee0000', ...base, '--host-keys', 'ed25519,dsa');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--host-keys: .*expected one of/);
    expect(existsSync(join(state, 'nfs', 'k0'))).toBe(false);

    const add = await cli(
      'node',
      'add',
      'k1',
      '--serial',
      'eeee0001',
      ...base,
      '--host-keys',
      'ed25519,ecdsa',
    );
    expect(add.exitCode, add.stderr).toBe(0);
    const sshDir = join(state, 'nfs', 'k1', 'etc', 'ssh');
    const keys = (await readdir(sshDir)).filter((name) => name.startsWith('ssh_host_')).sort();
    expect(keys).toEqual([
      'ssh_host_ecdsa_key',
      'ssh_host_ecdsa_key.pub',
      'ssh_host_ed25519_key',
      'ssh_host_ed25519_key.pub',
    ]);
    const fingerprint = await execa('ssh-keygen', ['-l', '-f', join(sshDir, 'ssh_host_ed25519_key')]);
    expect(fingerprint.stdout).toMatch(/ root@k1 \(ED25519\)$/);
    expect(await readFile(config, 'utf8')).toMatch(/hostKeys:\s*\n\s*- ed25519\n\s*- ecdsa/);
  }, 180_000);
});
