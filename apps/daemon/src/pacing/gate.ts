/**
 * The daemon's boot-storm gate: the proxyDHCP responder asks it before answering a Pi's DISCOVER.
 * A node with a slot is answered at once; one without waits in line and its reply is held for up
 * to `holdMs` (inside the firmware's DHCP retry window), sent the moment a slot frees up, or else
 * left unanswered so the firmware's next DISCOVER asks again from the same place in line. Slots go
 * back when the boot timeline says the boot ended (see release.ts), on timeouts, or on reloads.
 */
import { DhcpMessageType, type ProxyClient, type ProxyDecision } from '@bramble/dhcp';
import { isPiModelName, piModel } from '@bramble/pi';
import type { Logger } from 'pino';
import type { BootTimeline } from '../timeline/index.js';
import {
  type AdmissionClass,
  type AdmissionLimits,
  AdmissionQueue,
  type Admitted,
  type ReleaseReason,
} from './admission.js';
import { type ReleaseTimings, releaseReason } from './release.js';

/** The gate's settings: the manifest's `pacing:` (@bramble/manifest's PacingSettings, resolved). */
export type GateSettings = AdmissionLimits &
  ReleaseTimings & {
    enabled: boolean;
    /** Longest a DISCOVER's reply is held waiting for a slot (below the firmware's 4 s retry interval). */
    holdMs: number;
  };

/** What /fleet, /health and the metrics show. */
export interface PacingSnapshot {
  enabled: boolean;
  maxConcurrentBoots: number;
  booting: { key: string; kind: AdmissionClass; admittedAt: number; waitedMs: number }[];
  waiting: { known: number; unknown: number };
  /** Replies held right now. */
  held: number;
  peakBooting: number;
  admitted: Record<AdmissionClass, number>;
  released: Record<ReleaseReason, number>;
  dropped: number;
  turnedAway: number;
  /** Pi 3 ROMs admitted above the limit because they were about to halt. */
  rescued: number;
  /** DISCOVERs left unanswered because no slot freed within holdMs. */
  unanswered: number;
  /** The latest admissions, oldest first (bounded). */
  recent: { key: string; kind: AdmissionClass; admittedAt: number; waitedMs: number }[];
}

/** Held replies per node; more DISCOVERs from it while these wait are left unanswered. */
const MAX_HELD_PER_NODE = 4;
/** How often slots and lines are settled without an event. */
const TICK_MS = 250;
/** At most one summary log line per this interval. */
const LOG_INTERVAL_MS = 5_000;

interface Held {
  resolve: (decision: ProxyDecision) => void;
  timer: NodeJS.Timeout;
}

/**
 * When a client that halts after its DISCOVERs (the Pi 3 ROM: 5 × 5 s) must be answered by, counted
 * from its first DISCOVER seen: two retry windows before the end, so a lost first DISCOVER (the
 * firmware started 5 s earlier than seen) still leaves one. Undefined for firmware that keeps
 * retrying (the Pi 4/5 EEPROM restarts network boot).
 */
function giveUpAt(client: ProxyClient, now: number): number | undefined {
  if (!isPiModelName(client.model)) return undefined;
  const retry = piModel(client.model).boot.dhcpRetry;
  if (retry.afterTimeout !== 'halt') return undefined;
  return now + retry.totalTimeoutMs - 2 * retry.requestTimeoutMs;
}

export class BootGate {
  private readonly queue: AdmissionQueue;
  private readonly held = new Map<string, Held[]>();
  private unanswered = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastLogAt = 0;
  private readonly onChange = (hostname: string) => this.checkNode(hostname);

  constructor(
    private settings: GateSettings,
    private readonly timeline: BootTimeline,
    private readonly logger: Logger | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.queue = new AdmissionQueue(settings);
  }

  start(): void {
    this.timeline.on('change', this.onChange);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Stop: every held reply is released as unanswered. */
  stop(): void {
    this.timeline.off('change', this.onChange);
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const key of [...this.held.keys()]) this.answer(key, 'ignore');
  }

  /** New settings from a reloaded manifest; slots held by nodes that left the manifest go back. */
  configure(settings: GateSettings): void {
    this.settings = settings;
    this.queue.setLimits(settings);
    // Pacing switched off: whoever waits is answered now.
    if (!settings.enabled) for (const key of [...this.held.keys()]) this.answer(key, 'boot');
    for (const slot of this.queue.booting())
      if (slot.kind === 'known' && !this.isNode(slot.key)) this.queue.release(slot.key, 'removed');
    this.admit(this.queue.promote(this.now()));
  }

  /** The proxy responder's decide(): 'boot' now, or later, or 'ignore' after holdMs. */
  decide(client: ProxyClient): ProxyDecision | Promise<ProxyDecision> {
    // Only the firmware's DISCOVER is paced: a REQUEST follows an offer already made, and the booted
    // OS's own DHCP (no PXEClient vendor class) is not a firmware boot.
    if (!this.settings.enabled || client.messageType !== DhcpMessageType.DISCOVER) return 'boot';
    if (!client.vendorClass?.startsWith('PXEClient')) return 'boot';
    const hostname = this.timeline.nodeFor(client);
    const key = hostname ?? client.mac.toLowerCase();
    const now = this.now();
    const answer = this.queue.request(key, hostname ? 'known' : 'unknown', now, giveUpAt(client, now));
    if (answer.status === 'admitted') return 'boot';
    if (answer.status === 'full') return this.leaveUnanswered();
    return this.hold(key);
  }

  snapshot(): PacingSnapshot {
    const view = (slot: Admitted) => ({
      key: slot.key,
      kind: slot.kind,
      admittedAt: slot.admittedAt,
      waitedMs: slot.waitedMs,
    });
    const { counters } = this.queue;
    return {
      enabled: this.settings.enabled,
      maxConcurrentBoots: this.settings.maxConcurrentBoots,
      booting: this.queue.booting().map(view),
      waiting: { known: this.queue.waiting('known').length, unknown: this.queue.waiting('unknown').length },
      held: [...this.held.values()].reduce((sum, list) => sum + list.length, 0),
      peakBooting: this.queue.peakBooting,
      admitted: { ...counters.admitted },
      released: { ...counters.released },
      dropped: counters.dropped,
      turnedAway: counters.turnedAway,
      rescued: counters.rescued,
      unanswered: this.unanswered,
      recent: this.queue.recent().map(view),
    };
  }

  /** Release finished boots, expire, admit from the lines, and log a summary now and then. */
  tick(): void {
    const now = this.now();
    for (const slot of this.queue.booting()) if (slot.kind === 'known') this.judge(slot, now);
    this.admit(this.queue.settle(now));
    this.logSummary(now);
  }

  private isNode(hostname: string): boolean {
    return this.timeline.fleet().some((row) => row.node === hostname);
  }

  private checkNode(hostname: string): void {
    const slot = this.queue.booting().find((entry) => entry.key === hostname);
    if (!slot) return;
    if (this.judge(slot, this.now())) this.admit(this.queue.promote(this.now()));
  }

  /** Release the slot if the timeline says its boot ended; true when it did. */
  private judge(slot: Admitted, now: number): boolean {
    const boots = this.timeline.boots(slot.key) ?? [];
    const reason = releaseReason(boots, slot.admittedAt, now, this.settings);
    if (!reason) return false;
    this.queue.release(slot.key, reason);
    this.logger?.debug(
      { event: 'pacing-release', node: slot.key, reason, ms: now - slot.admittedAt },
      `${slot.key}: boot slot released (${reason})`,
    );
    return true;
  }

  private hold(key: string): ProxyDecision | Promise<ProxyDecision> {
    const list = this.held.get(key) ?? [];
    if (list.length >= MAX_HELD_PER_NODE || this.settings.holdMs === 0) return this.leaveUnanswered();
    return new Promise<ProxyDecision>((resolve) => {
      const entry: Held = {
        resolve,
        timer: setTimeout(() => {
          this.drop(key, entry);
          this.unanswered += 1;
          resolve('ignore');
        }, this.settings.holdMs),
      };
      list.push(entry);
      this.held.set(key, list);
    });
  }

  private leaveUnanswered(): ProxyDecision {
    this.unanswered += 1;
    return 'ignore';
  }

  private drop(key: string, entry: Held): void {
    const list = (this.held.get(key) ?? []).filter((other) => other !== entry);
    if (list.length > 0) this.held.set(key, list);
    else this.held.delete(key);
  }

  /** Send the held replies of newly admitted nodes (the others answer the node's next DISCOVER). */
  private admit(admitted: readonly Admitted[]): void {
    for (const slot of admitted) this.answer(slot.key, 'boot');
  }

  private answer(key: string, decision: ProxyDecision): void {
    const list = this.held.get(key) ?? [];
    this.held.delete(key);
    for (const entry of list) {
      clearTimeout(entry.timer);
      if (decision === 'ignore') this.unanswered += 1;
      entry.resolve(decision);
    }
  }

  private logSummary(now: number): void {
    const waiting = this.queue.waiting('known').length + this.queue.waiting('unknown').length;
    if (waiting === 0 || now - this.lastLogAt < LOG_INTERVAL_MS) return;
    this.lastLogAt = now;
    const booting = this.queue.booting().length;
    this.logger?.info(
      { event: 'pacing', booting, waiting, limit: this.settings.maxConcurrentBoots },
      `boot storm: ${booting} booting, ${waiting} waiting (limit ${this.settings.maxConcurrentBoots})`,
    );
  }
}
