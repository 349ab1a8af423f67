/**
 * `<stateDir>/discovered.json`: the Pis brambled saw asking to boot that the manifest does not
 * know. brambled writes it; `bramble node ls --discovered` and `node adopt` read it.
 */
import { readFile, stat } from 'node:fs/promises';

export interface DiscoveredPi {
  /** serial (8 hex) or MAC (aa:bb:..), whichever identified it */
  id: string;
  serial?: string;
  mac?: string;
  model: string;
  address: string;
  via: 'tftp' | 'dhcp';
  firstFile?: string;
  firstSeen: string;
  lastSeen: string;
  requests: number;
}

export interface DiscoveredFile {
  version: 1;
  pis: DiscoveredPi[];
}

/** Read discovered.json; a missing, unreadable or larger-than-`limitBytes` file reads as empty. */
export async function readDiscovered(
  file: string,
  limitBytes = Number.POSITIVE_INFINITY,
): Promise<DiscoveredPi[]> {
  try {
    if ((await stat(file)).size > limitBytes) return [];
    const data = JSON.parse(await readFile(file, 'utf8')) as Partial<DiscoveredFile>;
    return Array.isArray(data.pis) ? data.pis : [];
  } catch {
    return [];
  }
}
