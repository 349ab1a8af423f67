import { stringify } from 'yaml';
import { NodeTree } from '../node-tree.js';

export interface CloudInitSeed {
  hostname: string;
  user?: string | undefined;
  passwordHash?: string | undefined;
  sshKeys?: readonly string[] | undefined;
}

/**
 * NoCloud seed files (`meta-data`, `user-data`, `network-config`) for a node's boot directory, for
 * releases that configure themselves with cloud-init (Trixie). The instance id is per node, so each node
 * runs its first-boot modules once. Resizing is switched off (no block device on an NFS root) and cloud-init
 * must not touch the network: the kernel configured eth0 (`ip=dhcp`) and the root file system depends on it.
 */
export function cloudInitSeed(options: CloudInitSeed): {
  'meta-data': string;
  'user-data': string;
  'network-config': string;
} {
  const metaData = stringify({
    'instance-id': `bramble-${options.hostname}`,
    'local-hostname': options.hostname,
  });
  const cfg: Record<string, unknown> = {
    hostname: options.hostname,
    manage_etc_hosts: false,
    growpart: { mode: 'off' },
    resize_rootfs: false,
  };
  if (options.user) {
    const u: Record<string, unknown> = {
      name: options.user,
      groups: 'users,adm,dialout,audio,netdev,video,plugdev,cdrom,games,input,gpio,spi,i2c,render,sudo',
      shell: '/bin/bash',
      lock_passwd: options.passwordHash === undefined,
    };
    if (options.passwordHash) u.passwd = options.passwordHash;
    if (options.sshKeys?.length) u.ssh_authorized_keys = [...options.sshKeys];
    cfg.users = [u];
  }
  cfg.ssh_pwauth = options.passwordHash !== undefined;
  cfg.enable_ssh = true;
  const userData = `#cloud-config\n${stringify(cfg, { lineWidth: 0 })}`;
  const networkConfig =
    '# bramble: eth0 is configured by the kernel (ip=dhcp) because the root file system is on NFS;\n' +
    '# cloud-init must not reconfigure it.\nnetwork:\n  config: disabled\n';
  return { 'meta-data': metaData, 'user-data': userData, 'network-config': networkConfig };
}

/** Write the seed into the node's boot directory and disable cloud-init network config in the root. */
export async function writeCloudInitSeed(
  root: NodeTree | string,
  nodeBoot: NodeTree | string,
  options: CloudInitSeed,
): Promise<string[]> {
  const tree = await NodeTree.from(root);
  const boot = await NodeTree.from(nodeBoot);
  const changed: string[] = [];
  for (const [name, text] of Object.entries(cloudInitSeed(options))) {
    if (await boot.writeFile(`/${name}`, text)) changed.push(`boot:${name}`);
  }
  const dropIn = '/etc/cloud/cloud.cfg.d/99-bramble-nfsroot.cfg';
  if (
    await tree.writeFile(dropIn, '# bramble: NFS root, the kernel owns eth0\nnetwork: {config: disabled}\n')
  ) {
    changed.push(dropIn);
  }
  return changed;
}
