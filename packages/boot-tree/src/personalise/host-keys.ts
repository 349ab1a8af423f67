import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { BootTreeError } from '../errors.js';
import { NodeTree } from '../node-tree.js';
import { disableUnit, maskUnit } from './systemd.js';

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';

/** One key pair made by `ssh-keygen` in a private temporary directory (never inside the node tree). */
async function keygen(type: HostKeyType, hostname: string): Promise<{ key: Buffer; pub: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'bramble-hostkey-'));
  try {
    const file = join(dir, 'key');
    const r = await execa('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `root@${hostname}`, '-f', file], {
      reject: false,
      timeout: 60_000,
    }).catch((e: unknown) => ({ exitCode: -1, stderr: String(e) }));
    if (r.exitCode !== 0) {
      throw new BootTreeError(
        r.exitCode === -1 ? 'TOOL_MISSING' : 'TOOL_FAILED',
        `ssh-keygen -t ${type} failed: ${r.stderr} (install openssh-client)`,
      );
    }
    return { key: await readFile(file), pub: await readFile(`${file}.pub`) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Generate per-node SSH host keys in the root's /etc/ssh with `ssh-keygen -t TYPE -N '' -f …`, so nodes
 * neither share keys nor regenerate them on every boot. The keys are made in a private temporary
 * directory and written into the node root through NodeTree. Existing keys are kept (idempotent). Then
 * the image's first-boot `regenerate_ssh_host_keys.service` is disabled and masked.
 */
export async function generateHostKeys(
  root: NodeTree | string,
  options: { hostname: string; types?: readonly HostKeyType[] },
): Promise<string[]> {
  const tree = await NodeTree.from(root);
  const created: string[] = [];
  const missing: HostKeyType[] = [];
  for (const t of options.types ?? (['ed25519', 'ecdsa', 'rsa'] as const)) {
    const key = `/etc/ssh/ssh_host_${t}_key`;
    const [priv, pub] = await Promise.all([tree.lstat(key), tree.lstat(`${key}.pub`)]);
    if (!(priv?.isFile() && pub?.isFile())) missing.push(t);
  }
  // The key types are generated at the same time (RSA dominates: the others finish within it).
  const settled = await Promise.allSettled(missing.map((t) => keygen(t, options.hostname)));
  for (const [i, t] of missing.entries()) {
    const r = settled[i] as PromiseSettledResult<{ key: Buffer; pub: Buffer }>;
    if (r.status === 'rejected') throw r.reason;
    const key = `/etc/ssh/ssh_host_${t}_key`;
    await tree.writeFile(key, r.value.key, { mode: 0o600, uid: 0, gid: 0 });
    await tree.writeFile(`${key}.pub`, r.value.pub, { mode: 0o644, uid: 0, gid: 0 });
    created.push(key);
  }
  await disableUnit(tree, 'regenerate_ssh_host_keys.service');
  await maskUnit(tree, 'regenerate_ssh_host_keys.service');
  return created;
}
