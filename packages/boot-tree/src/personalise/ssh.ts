import { NodeTree } from '../node-tree.js';
import { enableUnit, findUnit } from './systemd.js';

/**
 * Enable SSH for a node: the empty `ssh` file in its boot directory (consumed by sshswitch.service once
 * the boot directory is mounted) and, because that depends on the boot mount, the systemd enablement of
 * ssh.service in the root itself (`multi-user.target.wants/ssh.service` plus the `sshd.service` alias,
 * exactly what `systemctl enable ssh` creates).
 */
export async function enableSsh(root: NodeTree | string, nodeBoot: NodeTree | string): Promise<string[]> {
  const tree = await NodeTree.from(root);
  const boot = await NodeTree.from(nodeBoot);
  const changed: string[] = [];
  if (await boot.writeFile('/ssh', '')) changed.push('boot:ssh');
  if (await enableUnit(tree, 'ssh.service', 'multi-user.target')) {
    changed.push('/etc/systemd/system/multi-user.target.wants/ssh.service');
  }
  const unit = await findUnit(tree, 'ssh.service');
  if (unit && (await tree.symlink(unit, '/etc/systemd/system/sshd.service'))) {
    changed.push('/etc/systemd/system/sshd.service');
  }
  return changed;
}
