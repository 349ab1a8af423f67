import { join } from 'node:path';
import { ensureSymlink, writeText } from '../fs-util.js';
import { enableUnit, findUnit } from './systemd.js';

/**
 * Enable SSH for a node: the empty `ssh` file in its boot directory (consumed by sshswitch.service once
 * the boot directory is mounted) and, because that depends on the boot mount, the systemd enablement of
 * ssh.service in the root itself (`multi-user.target.wants/ssh.service` plus the `sshd.service` alias,
 * exactly what `systemctl enable ssh` creates).
 */
export async function enableSsh(rootDir: string, nodeBootDir: string): Promise<string[]> {
  const changed: string[] = [];
  if (await writeText(join(nodeBootDir, 'ssh'), '')) changed.push('boot:ssh');
  if (await enableUnit(rootDir, 'ssh.service', 'multi-user.target')) {
    changed.push('/etc/systemd/system/multi-user.target.wants/ssh.service');
  }
  const unit = await findUnit(rootDir, 'ssh.service');
  if (unit && (await ensureSymlink(unit, join(rootDir, 'etc/systemd/system/sshd.service')))) {
    changed.push('/etc/systemd/system/sshd.service');
  }
  return changed;
}
