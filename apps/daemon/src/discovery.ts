/**
 * Discovery of Pis the manifest does not know: an unknown serial or MAC asking to boot (a TFTP
 * path prefix, or DHCP option 97 through the proxy) is logged once with model and address and
 * recorded in <state>/discovered.json, which `bramble node ls --discovered` reads.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

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

export async function readDiscovered(file: string): Promise<DiscoveredPi[]> {
  try {
    const data = JSON.parse(await readFile(file, 'utf8')) as Partial<DiscoveredFile>;
    return Array.isArray(data.pis) ? data.pis : [];
  } catch {
    return [];
  }
}

export class Discovery {
  private readonly pis = new Map<string, DiscoveredPi>();
  private known = { serials: new Set<string>(), macs: new Set<string>() };
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    public file: string,
    private readonly logger?: Logger,
    private readonly onNew?: (p: DiscoveredPi) => void,
  ) {}

  async load(): Promise<void> {
    for (const p of await readDiscovered(this.file)) this.pis.set(p.id, p);
  }

  setKnown(serials: Iterable<string>, macs: Iterable<string>): void {
    this.known = { serials: new Set(serials), macs: new Set([...macs].map((m) => m.toLowerCase())) };
  }

  isKnown(o: { serial?: string | undefined; mac?: string | undefined }): boolean {
    return (
      (o.serial !== undefined && this.known.serials.has(o.serial)) ||
      (o.mac !== undefined && this.known.macs.has(o.mac.toLowerCase()))
    );
  }

  /** Record a boot request; returns true when this Pi was seen for the first time. */
  see(o: {
    serial?: string | undefined;
    mac?: string | undefined;
    model: string;
    address: string;
    via: 'tftp' | 'dhcp';
    file?: string;
  }): boolean {
    if (this.isKnown(o)) return false;
    const id = o.serial ?? o.mac;
    if (id === undefined) return false;
    const now = new Date().toISOString();
    const had = this.pis.get(id);
    if (had) {
      had.lastSeen = now;
      had.requests += 1;
      had.address = o.address;
      if (had.model === 'unknown' && o.model !== 'unknown') had.model = o.model;
      if (had.mac === undefined && o.mac !== undefined) had.mac = o.mac;
      this.schedule();
      return false;
    }
    const pi: DiscoveredPi = {
      id,
      ...(o.serial !== undefined ? { serial: o.serial } : {}),
      ...(o.mac !== undefined ? { mac: o.mac } : {}),
      model: o.model,
      address: o.address,
      via: o.via,
      ...(o.file !== undefined ? { firstFile: o.file } : {}),
      firstSeen: now,
      lastSeen: now,
      requests: 1,
    };
    this.pis.set(id, pi);
    this.logger?.warn(
      {
        event: 'discovered',
        id,
        serial: o.serial,
        mac: o.mac,
        model: o.model,
        address: o.address,
        via: o.via,
      },
      `unknown Pi ${id} (${o.model}) at ${o.address} asked to boot; adopt it with: bramble node adopt ${id} --hostname NAME --image IMAGE`,
    );
    this.onNew?.(pi);
    this.schedule();
    return true;
  }

  /** Record into another file from now on (the manifest's stateDir changed); everything seen is kept. */
  retarget(file: string): void {
    if (file === this.file) return;
    this.file = file;
    this.schedule();
  }

  list(): DiscoveredPi[] {
    return [...this.pis.values()].filter((p) => !this.isKnown(p));
  }

  private schedule(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.writing = this.writing.then(async () => {
      this.dirty = false;
      const data: DiscoveredFile = { version: 1, pis: [...this.pis.values()] };
      try {
        await mkdir(dirname(this.file), { recursive: true });
        const tmp = `${this.file}.${process.pid}.tmp`;
        await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`);
        await rename(tmp, this.file);
      } catch (e) {
        this.logger?.error({ err: e, file: this.file }, 'cannot record discovered Pis');
      }
    });
  }

  /** Resolves when pending writes of discovered.json are done. */
  flush(): Promise<void> {
    return this.writing;
  }
}
