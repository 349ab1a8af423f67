/**
 * Discovery of Pis the manifest does not know: an unknown serial or MAC asking to boot (a TFTP
 * path prefix, or DHCP option 97 through the proxy) is logged with model and address and
 * recorded in <state>/discovered.json, which `bramble node ls --discovered` reads.
 *
 * Anyone on the LAN can send such a request with any serial, so everything here is bounded: the
 * table holds at most `maxEntries` Pis (least recently seen evicted first), entries expire
 * `expireAfterMs` after they were last seen, "unknown Pi" log lines are rate-limited (a summary
 * tells how many were held back), and the file is written at most once per `writeDelayMs`
 * (debounced, temp file + rename, so it is never half-written) with its size bounded by the cap.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type DiscoveredFile, type DiscoveredPi, readDiscovered } from '@bramble/manifest';
import { definedOnly } from '@bramble/pi';
import type { Logger } from 'pino';

/** Bounds of the discovery table; every field has a safe default. */
export interface DiscoveryLimits {
  /** Most Pis remembered; the least recently seen is evicted beyond it (default 1024). */
  maxEntries: number;
  /** A Pi not seen for this long is forgotten (default 7 days). */
  expireAfterMs: number;
  /** At most this many "unknown Pi" log lines per `logWindowMs` (default 10 per minute). */
  logBurst: number;
  logWindowMs: number;
  /** discovered.json is written at most once per this many ms (default 2000). */
  writeDelayMs: number;
}

export const DEFAULT_DISCOVERY_LIMITS: DiscoveryLimits = {
  maxEntries: 1024,
  expireAfterMs: 7 * 24 * 3600 * 1000,
  logBurst: 10,
  logWindowMs: 60_000,
  writeDelayMs: 2000,
};

/** Longest file name kept in `firstFile` (TFTP file names are client-chosen). */
const MAX_FILE_CHARS = 96;
/** Upper bound of one serialised entry, for the file-size bound (`maxFileBytes`). */
const MAX_ENTRY_BYTES = 1024;

/** The largest discovered.json a table with these limits writes; bigger files are not loaded. */
export function maxFileBytes(limits: Pick<DiscoveryLimits, 'maxEntries'>): number {
  return 64 + limits.maxEntries * MAX_ENTRY_BYTES;
}

export interface DiscoveryStats {
  /** Entries dropped because the table was full. */
  evicted: number;
  /** Entries dropped because they were not seen for `expireAfterMs`. */
  expired: number;
  /** "unknown Pi" log lines held back by the rate limit. */
  logSuppressed: number;
  /** Writes of discovered.json. */
  writes: number;
}

export interface Sighting {
  serial?: string | undefined;
  mac?: string | undefined;
  model: string;
  address: string;
  via: 'tftp' | 'dhcp';
  file?: string;
}

/** A token bucket for log lines: `burst` lines per `windowMs`, the rest counted. */
class LogLimiter {
  private windowStart = 0;
  private used = 0;
  held = 0;

  constructor(
    private readonly burst: number,
    private readonly windowMs: number,
  ) {}

  /** True when a line may be logged now; `heldBefore` is how many were held back since the last one. */
  take(now: number): { allowed: boolean; heldBefore: number } {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= this.burst) {
      this.held += 1;
      return { allowed: false, heldBefore: 0 };
    }
    this.used += 1;
    const heldBefore = this.held;
    this.held = 0;
    return { allowed: true, heldBefore };
  }
}

export class Discovery {
  /** Insertion order is recency order: a sighting moves its entry to the end. */
  private readonly pis = new Map<string, DiscoveredPi>();
  private known = { serials: new Set<string>(), macs: new Set<string>() };
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly limits: DiscoveryLimits;
  private readonly logLimiter: LogLimiter;
  readonly stats: DiscoveryStats = { evicted: 0, expired: 0, logSuppressed: 0, writes: 0 };

  constructor(
    public file: string,
    private readonly logger?: Logger,
    private readonly onNew?: (pi: DiscoveredPi) => void,
    limits: Partial<DiscoveryLimits> = {},
  ) {
    this.limits = { ...DEFAULT_DISCOVERY_LIMITS, ...limits };
    this.logLimiter = new LogLimiter(this.limits.logBurst, this.limits.logWindowMs);
  }

  /** Load the file; a file over the size bound is ignored, the newest `maxEntries` unexpired entries kept. */
  async load(): Promise<void> {
    const loaded = await readDiscovered(this.file, maxFileBytes(this.limits));
    const newestLast = loaded
      .filter((pi) => typeof pi?.id === 'string' && typeof pi.lastSeen === 'string')
      .sort((a, b) => Date.parse(a.lastSeen) - Date.parse(b.lastSeen));
    for (const pi of newestLast.slice(-this.limits.maxEntries)) this.pis.set(pi.id, pi);
    this.expire(Date.now());
  }

  setKnown(serials: Iterable<string>, macs: Iterable<string>): void {
    this.known = { serials: new Set(serials), macs: new Set([...macs].map((mac) => mac.toLowerCase())) };
  }

  isKnown(ids: { serial?: string | undefined; mac?: string | undefined }): boolean {
    return (
      (ids.serial !== undefined && this.known.serials.has(ids.serial)) ||
      (ids.mac !== undefined && this.known.macs.has(ids.mac.toLowerCase()))
    );
  }

  /** Record a boot request; returns true when this Pi was seen for the first time. */
  see(sighting: Sighting): boolean {
    if (this.isKnown(sighting)) return false;
    const id = sighting.serial ?? sighting.mac;
    if (id === undefined) return false;
    const now = Date.now();
    this.expire(now);
    const had = this.pis.get(id);
    if (had) {
      this.touch(had, sighting, now);
      this.schedule();
      return false;
    }
    const pi = this.newEntry(id, sighting, now);
    this.pis.set(id, pi);
    this.evictBeyondCap();
    this.logNew(pi, now);
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
    this.expire(Date.now());
    return [...this.pis.values()].filter((pi) => !this.isKnown(pi));
  }

  /** Write pending changes now; resolves when discovered.json is up to date. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.write();
    }
    return this.writing;
  }

  private touch(pi: DiscoveredPi, sighting: Sighting, now: number): void {
    pi.lastSeen = new Date(now).toISOString();
    pi.requests += 1;
    pi.address = sighting.address;
    if (pi.model === 'unknown' && sighting.model !== 'unknown') pi.model = sighting.model;
    if (pi.mac === undefined && sighting.mac !== undefined) pi.mac = sighting.mac;
    // Most recently seen last: re-insert.
    this.pis.delete(pi.id);
    this.pis.set(pi.id, pi);
  }

  private newEntry(id: string, sighting: Sighting, now: number): DiscoveredPi {
    const iso = new Date(now).toISOString();
    return {
      id,
      ...definedOnly({ serial: sighting.serial, mac: sighting.mac }),
      model: sighting.model,
      address: sighting.address,
      via: sighting.via,
      ...definedOnly({ firstFile: sighting.file?.slice(0, MAX_FILE_CHARS) }),
      firstSeen: iso,
      lastSeen: iso,
      requests: 1,
    };
  }

  private evictBeyondCap(): void {
    while (this.pis.size > this.limits.maxEntries) {
      const oldest = this.pis.keys().next().value;
      if (oldest === undefined) break;
      this.pis.delete(oldest);
      this.stats.evicted += 1;
    }
  }

  private expire(now: number): void {
    const cutoff = now - this.limits.expireAfterMs;
    for (const [id, pi] of this.pis) {
      // Recency order: the first entry still fresh ends the sweep.
      if (Date.parse(pi.lastSeen) >= cutoff) break;
      this.pis.delete(id);
      this.stats.expired += 1;
    }
  }

  private logNew(pi: DiscoveredPi, now: number): void {
    const { allowed, heldBefore } = this.logLimiter.take(now);
    if (!allowed) {
      this.stats.logSuppressed += 1;
      return;
    }
    if (heldBefore > 0)
      this.logger?.warn(
        { event: 'discovered-suppressed', count: heldBefore },
        `${heldBefore} more unknown Pis asked to boot (log lines rate-limited; see /discovered)`,
      );
    this.logger?.warn(
      {
        event: 'discovered',
        id: pi.id,
        serial: pi.serial,
        mac: pi.mac,
        model: pi.model,
        address: pi.address,
        via: pi.via,
      },
      `unknown Pi ${pi.id} (${pi.model}) at ${pi.address} asked to boot; adopt it with: bramble node adopt ${pi.id} --hostname NAME --image IMAGE`,
    );
  }

  /** Debounced: one write per `writeDelayMs` however many sightings arrive. */
  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, this.limits.writeDelayMs);
    this.timer.unref();
  }

  private write(): void {
    this.writing = this.writing.then(async () => {
      const data: DiscoveredFile = { version: 1, pis: [...this.pis.values()] };
      const file = this.file;
      try {
        await mkdir(dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        await writeFile(tmp, `${JSON.stringify(data)}\n`);
        await rename(tmp, file);
        this.stats.writes += 1;
      } catch (e) {
        this.logger?.error({ err: e, file }, 'cannot record discovered Pis');
      }
    });
  }
}
