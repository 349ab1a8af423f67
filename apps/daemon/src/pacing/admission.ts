/**
 * Boot admission control, as pure logic: at most `maxConcurrentBoots` nodes boot at once, the others
 * wait in line. Known (manifest) nodes are admitted before unknown addresses; within each class the
 * line is first come, first served, except that a waiter with a deadline (a Pi 3 ROM halts after its
 * last DISCOVER) goes first, earliest deadline first, and is admitted even above the limit once its
 * deadline comes (`rescueHalting`): waiting longer would leave it halted until power-cycled. Every
 * table is bounded; the clock is passed in, so the rules are
 * unit-testable without timers.
 */

/** A manifest node, or anything else that asked (an unknown Pi, another PXE client). */
export type AdmissionClass = 'known' | 'unknown';

/** Why a slot was given back. */
/** `expired`: an unknown node's fixed slot time ran out (brambled cannot follow its boot). */
export type ReleaseReason = 'booted' | 'failed' | 'no-show' | 'timeout' | 'expired' | 'removed';

export interface AdmissionLimits {
  /** Nodes booting at once. */
  maxConcurrentBoots: number;
  /** Of those, how many may be unknown (so strangers can never fill every slot). */
  maxUnknownBoots: number;
  /** Nodes waiting in line; beyond it, an unknown newcomer is turned away (it retries later). */
  maxWaiting: number;
  /** A waiter not heard from for this long has given up and loses its place. */
  waitingExpireMs: number;
  /** A slot is taken back after this long whatever the node is doing. */
  bootTimeoutMs: number;
  /** An unknown node's slot is taken back after this long (brambled cannot see how far it got). */
  unknownSlotMs: number;
  /** Admit a waiter above the limit when its deadline comes (else it would halt). */
  rescueHalting: boolean;
}

export interface Waiter {
  key: string;
  kind: AdmissionClass;
  /** When it first asked (its place in line). */
  since: number;
  lastSeen: number;
  /** When it stops asking for good (a Pi 3 ROM's last DISCOVER window), if it ever does. */
  deadline?: number;
}

export interface Admitted {
  key: string;
  kind: AdmissionClass;
  admittedAt: number;
  /** How long it waited in line. */
  waitedMs: number;
}

export type AdmissionAnswer =
  | { status: 'admitted'; slot: Admitted }
  | { status: 'waiting'; position: number }
  /** The waiting table is full: the request is left unanswered and not remembered. */
  | { status: 'full' };

export interface AdmissionCounters {
  admitted: Record<AdmissionClass, number>;
  released: Record<ReleaseReason, number>;
  /** Waiters that gave up (not heard from for waitingExpireMs) or were pushed out by a known node. */
  dropped: number;
  /** Requests turned away because the waiting table was full. */
  turnedAway: number;
  /** Waiters admitted above the limit because their deadline came. */
  rescued: number;
}

/** Most admissions kept in the recent-admissions log. */
export const RECENT_ADMISSIONS = 256;

export class AdmissionQueue {
  private readonly slots = new Map<string, Admitted>();
  /** One line per class; Map order is arrival order. */
  private readonly lines: Record<AdmissionClass, Map<string, Waiter>> = {
    known: new Map(),
    unknown: new Map(),
  };
  private readonly recentLog: Admitted[] = [];
  /** Most nodes booting at once so far. */
  peakBooting = 0;
  readonly counters: AdmissionCounters = {
    admitted: { known: 0, unknown: 0 },
    released: { booted: 0, failed: 0, 'no-show': 0, timeout: 0, expired: 0, removed: 0 },
    dropped: 0,
    turnedAway: 0,
    rescued: 0,
  };

  constructor(private limits: AdmissionLimits) {}

  setLimits(limits: AdmissionLimits): void {
    this.limits = limits;
  }

  /**
   * A node asks to boot. Admitted at once when it already holds a slot, or when a slot is free and
   * nobody is ahead of it; otherwise it keeps (or takes) its place in its class's line.
   */
  request(key: string, kind: AdmissionClass, now: number, deadline?: number): AdmissionAnswer {
    const slot = this.slots.get(key);
    if (slot) return { status: 'admitted', slot };
    const line = this.lines[kind];
    const waiting = line.get(key);
    if (waiting) {
      waiting.lastSeen = now;
      return { status: 'waiting', position: this.position(key, kind) };
    }
    if (!this.makeRoomFor(kind)) {
      this.counters.turnedAway += 1;
      return { status: 'full' };
    }
    line.set(key, { key, kind, since: now, lastSeen: now, ...(deadline !== undefined ? { deadline } : {}) });
    const admitted = this.promote(now).find((entry) => entry.key === key);
    if (admitted) return { status: 'admitted', slot: admitted };
    return { status: 'waiting', position: this.position(key, kind) };
  }

  /** Give a slot back; returns false when the key held none. */
  release(key: string, reason: ReleaseReason): boolean {
    if (!this.slots.delete(key)) return false;
    this.counters.released[reason] += 1;
    return true;
  }

  /**
   * Take back timed-out slots, forget waiters that gave up, then fill free slots from the lines.
   * Returns the newly admitted (their held replies can go out now).
   */
  settle(now: number): Admitted[] {
    for (const slot of [...this.slots.values()]) {
      const limit = slot.kind === 'known' ? this.limits.bootTimeoutMs : this.limits.unknownSlotMs;
      if (now - slot.admittedAt >= limit)
        this.release(slot.key, slot.kind === 'known' ? 'timeout' : 'expired');
    }
    for (const line of Object.values(this.lines))
      for (const waiter of [...line.values()])
        if (now - waiter.lastSeen >= this.limits.waitingExpireMs) {
          line.delete(waiter.key);
          this.counters.dropped += 1;
        }
    return [...this.promote(now), ...this.rescue(now)];
  }

  /** Waiters whose deadline has come, admitted whatever the limit (rescueHalting). */
  private rescue(now: number): Admitted[] {
    if (!this.limits.rescueHalting) return [];
    const due = [...this.lines.known.values(), ...this.lines.unknown.values()].filter(
      (waiter) => waiter.deadline !== undefined && waiter.deadline <= now,
    );
    const admitted = due.map((waiter) => this.admit(waiter, now));
    this.counters.rescued += admitted.length;
    this.peakBooting = Math.max(this.peakBooting, this.slots.size);
    return admitted;
  }

  /** Admit from the head of the lines while slots are free: known first, unknown within its cap. */
  promote(now: number): Admitted[] {
    const admitted: Admitted[] = [];
    while (this.slots.size < this.limits.maxConcurrentBoots) {
      const next = this.nextWaiter();
      if (!next) break;
      admitted.push(this.admit(next, now));
    }
    this.peakBooting = Math.max(this.peakBooting, this.slots.size);
    return admitted;
  }

  /** The slots in use. */
  booting(): Admitted[] {
    return [...this.slots.values()];
  }

  waiting(kind: AdmissionClass): Waiter[] {
    return [...this.lines[kind].values()];
  }

  /** The latest admissions, oldest first (at most RECENT_ADMISSIONS). */
  recent(): readonly Admitted[] {
    return this.recentLog;
  }

  isWaiting(key: string): boolean {
    return this.lines.known.has(key) || this.lines.unknown.has(key);
  }

  private admit(waiter: Waiter, now: number): Admitted {
    this.lines[waiter.kind].delete(waiter.key);
    const slot: Admitted = {
      key: waiter.key,
      kind: waiter.kind,
      admittedAt: now,
      waitedMs: now - waiter.since,
    };
    this.slots.set(waiter.key, slot);
    this.counters.admitted[waiter.kind] += 1;
    this.recentLog.push(slot);
    if (this.recentLog.length > RECENT_ADMISSIONS) this.recentLog.shift();
    return slot;
  }

  private nextWaiter(): Waiter | undefined {
    const known = headOf(this.lines.known);
    if (known) return known;
    const unknownBooting = [...this.slots.values()].filter((slot) => slot.kind === 'unknown').length;
    if (unknownBooting >= this.limits.maxUnknownBoots) return undefined;
    return headOf(this.lines.unknown);
  }

  /** 1-based place in line: every known waiter is ahead of every unknown one. */
  private position(key: string, kind: AdmissionClass): number {
    const ahead = kind === 'unknown' ? this.lines.known.size : 0;
    return ahead + [...this.lines[kind].keys()].indexOf(key) + 1;
  }

  /** A full table turns unknown newcomers away; a known one pushes out the newest unknown waiter. */
  private makeRoomFor(kind: AdmissionClass): boolean {
    if (this.lines.known.size + this.lines.unknown.size < this.limits.maxWaiting) return true;
    if (kind === 'unknown') return false;
    const newest = [...this.lines.unknown.keys()].pop();
    if (newest === undefined) return false;
    this.lines.unknown.delete(newest);
    this.counters.dropped += 1;
    return true;
  }
}

/** The earliest deadline in the line, else the longest waiting (Map order is arrival order). */
function headOf(line: Map<string, Waiter>): Waiter | undefined {
  let head: Waiter | undefined;
  for (const waiter of line.values()) {
    if (waiter.deadline === undefined) {
      head ??= waiter;
      continue;
    }
    if (head?.deadline === undefined || waiter.deadline < head.deadline) head = waiter;
  }
  return head;
}
