import { NodeTree } from '../node-tree.js';
import { hostnameFile, patchHosts } from '../patch/hosts.js';

/** Write /etc/hostname and the 127.0.1.1 line of /etc/hosts in a node's root. Returns changed paths. */
export async function setHostname(root: NodeTree | string, hostname: string): Promise<string[]> {
  const tree = await NodeTree.from(root);
  const changed: string[] = [];
  if (await tree.writeFile('/etc/hostname', hostnameFile(hostname))) changed.push('/etc/hostname');
  const cur = (await tree.readText('/etc/hosts')) ?? '127.0.0.1\tlocalhost\n';
  if (await tree.writeFile('/etc/hosts', patchHosts(cur, hostname))) changed.push('/etc/hosts');
  return changed;
}
