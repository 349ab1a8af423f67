import { join } from 'node:path';
import { readTextIfExists, writeText } from '../fs-util.js';
import { hostnameFile, patchHosts } from '../patch/hosts.js';

/** Write /etc/hostname and the 127.0.1.1 line of /etc/hosts in a node's root. Returns changed paths. */
export async function setHostname(rootDir: string, hostname: string): Promise<string[]> {
  const changed: string[] = [];
  if (await writeText(join(rootDir, 'etc/hostname'), hostnameFile(hostname))) changed.push('/etc/hostname');
  const hostsPath = join(rootDir, 'etc/hosts');
  const cur = (await readTextIfExists(hostsPath)) ?? '127.0.0.1\tlocalhost\n';
  if (await writeText(hostsPath, patchHosts(cur, hostname))) changed.push('/etc/hosts');
  return changed;
}
