import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BootTreeError } from '../errors.js';
import { exists } from '../fs-util.js';
import { disableUnit, maskUnit } from './systemd.js';

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';

/**
 * Generate per-node SSH host keys in the root's /etc/ssh with `ssh-keygen -t TYPE -N '' -f …`, so nodes
 * neither share keys nor regenerate them on every boot. Existing keys are kept (idempotent). Then the
 * image's first-boot `regenerate_ssh_host_keys.service` is disabled and masked.
 */
export async function generateHostKeys(
  rootDir: string,
  o: { hostname: string; types?: readonly HostKeyType[] },
): Promise<string[]> {
  const created: string[] = [];
  for (const t of o.types ?? (['ed25519', 'ecdsa', 'rsa'] as const)) {
    const key = join(rootDir, 'etc/ssh', `ssh_host_${t}_key`);
    if ((await exists(key)) && (await exists(`${key}.pub`))) continue;
    await mkdir(join(rootDir, 'etc/ssh'), { recursive: true });
    await rm(key, { force: true });
    await rm(`${key}.pub`, { force: true });
    const r = await execa('ssh-keygen', ['-q', '-t', t, '-N', '', '-C', `root@${o.hostname}`, '-f', key], {
      reject: false,
      timeout: 60_000,
    }).catch((e: unknown) => ({ exitCode: -1, stderr: String(e) }));
    if (r.exitCode !== 0) {
      throw new BootTreeError(
        r.exitCode === -1 ? 'TOOL_MISSING' : 'TOOL_FAILED',
        `ssh-keygen -t ${t} failed: ${r.stderr} (install openssh-client)`,
      );
    }
    await chmod(key, 0o600);
    await chmod(`${key}.pub`, 0o644);
    created.push(`/etc/ssh/ssh_host_${t}_key`);
  }
  await disableUnit(rootDir, 'regenerate_ssh_host_keys.service');
  await maskUnit(rootDir, 'regenerate_ssh_host_keys.service');
  return created;
}
