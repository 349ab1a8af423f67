import { BootTreeError } from '../errors.js';
import { NodeTree } from '../node-tree.js';
import { generateOpenSshKeyPair, type HostKeyType, type OpenSshKeyPair } from './openssh-key.js';
import { disableUnit, maskUnit } from './systemd.js';

export type { HostKeyType } from './openssh-key.js';

/** Host key types a node gets by default (as ssh-keygen -A / the image's first-boot service makes). */
export const DEFAULT_HOST_KEY_TYPES: readonly HostKeyType[] = ['ed25519', 'ecdsa', 'rsa'];

/** Writes the host keys started by prepareHostKeys into the tree; returns the private key paths written. */
export type HostKeyWriter = () => Promise<string[]>;

/**
 * Start generating the node's missing SSH host keys now (in the thread pool, all types at once) and
 * return the function that writes them: provisioning starts the keys first and personalises the rest of
 * the root while they are made (RSA-3072 takes most of the time). Existing keys are kept (idempotent).
 * The writer writes `/etc/ssh/ssh_host_TYPE_key` (0600) and `.pub` (0644), root-owned, through NodeTree,
 * then disables and masks the image's first-boot `regenerate_ssh_host_keys.service`.
 */
export async function prepareHostKeys(
  root: NodeTree | string,
  options: { hostname: string; types?: readonly HostKeyType[] },
): Promise<HostKeyWriter> {
  const tree = await NodeTree.from(root);
  if (/[\s\0]/.test(options.hostname)) {
    throw new BootTreeError('INVALID_INPUT', `hostname '${options.hostname}' has white space`);
  }
  const missing: HostKeyType[] = [];
  for (const type of options.types ?? DEFAULT_HOST_KEY_TYPES) {
    const key = `/etc/ssh/ssh_host_${type}_key`;
    const [priv, pub] = await Promise.all([tree.lstat(key), tree.lstat(`${key}.pub`)]);
    if (!(priv?.isFile() && pub?.isFile()) && !missing.includes(type)) missing.push(type);
  }
  const pending = Promise.allSettled(
    missing.map((type) => generateOpenSshKeyPair(type, `root@${options.hostname}`)),
  );
  return async () => {
    const settled = await pending;
    const created: string[] = [];
    for (const [i, type] of missing.entries()) {
      const made = settled[i] as PromiseSettledResult<OpenSshKeyPair>;
      if (made.status === 'rejected') throw made.reason;
      const key = `/etc/ssh/ssh_host_${type}_key`;
      await tree.writeFile(key, made.value.key, { mode: 0o600, uid: 0, gid: 0 });
      await tree.writeFile(`${key}.pub`, made.value.pub, { mode: 0o644, uid: 0, gid: 0 });
      created.push(key);
    }
    await disableUnit(tree, 'regenerate_ssh_host_keys.service');
    await maskUnit(tree, 'regenerate_ssh_host_keys.service');
    return created;
  };
}

/**
 * Generate per-node SSH host keys in the root's /etc/ssh (OpenSSH formats, ssh-keygen's default sizes;
 * see openssh-key.ts), so nodes neither share keys nor regenerate them on every boot. Existing keys are
 * kept (idempotent). Then the image's first-boot `regenerate_ssh_host_keys.service` is disabled and masked.
 */
export async function generateHostKeys(
  root: NodeTree | string,
  options: { hostname: string; types?: readonly HostKeyType[] },
): Promise<string[]> {
  return (await prepareHostKeys(root, options))();
}
