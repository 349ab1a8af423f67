/** Talking to a running brambled over its HTTP endpoint (http.listen in the manifest, or --url). */
import type { BootView, FleetSnapshot } from 'brambled';
import type { GlobalOptions } from './context.js';
import { manifestFor } from './context.js';
import { CliError } from './errors.js';

/** The base URL: --url, then BRAMBLE_URL, then the manifest's http.listen (0.0.0.0 means this host). */
export async function brambledUrl(g: GlobalOptions, url?: string): Promise<string> {
  const given = url ?? process.env.BRAMBLE_URL;
  if (given) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(given))
      throw new CliError('BAD_URL', `expected a URL like http://127.0.0.1:9469, got '${given}'`, 2);
    return given.replace(/\/$/, '');
  }
  const m = await manifestFor(g);
  const { address, port } = m.manifest.http.listen;
  return `http://${address === '0.0.0.0' ? '127.0.0.1' : address}:${port}`;
}

async function getJson<T>(base: string, path: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new CliError(
      'NO_DAEMON',
      `cannot reach brambled at ${base} (${(e as Error).message}): is 'bramble serve' running? (--url to point elsewhere)`,
    );
  }
  if (response.status === 404) throw new CliError('NOT_FOUND', (await response.text()).trim());
  if (!response.ok) throw new CliError('DAEMON_ERROR', `brambled answered ${response.status} for ${path}`);
  return (await response.json()) as T;
}

export const fetchFleet = (base: string) => getJson<FleetSnapshot>(base, '/fleet');

export const fetchBoots = (base: string, node: string) =>
  getJson<BootView[]>(base, `/nodes/${encodeURIComponent(node)}/boots`);
