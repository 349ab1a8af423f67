/**
 * The boot timeline recorder: turns the proxyDHCP responder's and the TFTP server's events into one
 * record per node and boot (bounded: the last `maxBoots` boots per node, `maxFiles` files per boot),
 * for the manifest's nodes only — unknown addresses never create entries.
 */
import { EventEmitter } from 'node:events';
import { DhcpMessageType } from '@bramble/dhcp';
import { isPiModelName, parseTftpPath, pi3MacFromSerial, piModel } from '@bramble/pi';
import { type FirmwareFileRoles, firmwareFileRoles } from '@bramble/virtual-pi';
import {
  type BootRules,
  baseName,
  discoverStartsBoot,
  fileResult,
  judgeBoot,
  requestStartsBoot,
  safeFileName,
  type TransferEnd,
} from './classify.js';
import { BootMetrics } from './metrics.js';
import type { BootRecord, BootState, BootView, FileStep, NodeStatus } from './types.js';

export interface TimelineNode {
  hostname: string;
  serial?: string | undefined;
  mac?: string | undefined;
  model?: string | undefined;
  address?: string | undefined;
}

export interface TimelineOptions {
  /** Boots kept per node (default 10). */
  maxBoots?: number;
  /** Files kept per boot (default 256); later ones are counted in `filesDropped`. */
  maxFiles?: number;
  /** Quiet time before a boot short of its kernel counts as stalled (default 10 s). */
  stallMs?: number;
  /** Quiet time after which a boot-start file begins a new boot (default 30 s). */
  quietGapMs?: number;
  /** Clock (tests). */
  now?: () => number;
  roles?: FirmwareFileRoles;
}

/** A DHCP request the proxy considered (option 53: 1 = DISCOVER, 3 = REQUEST). */
export interface DhcpSeen {
  serial?: string | undefined;
  mac: string;
  address: string;
  messageType: number;
  via: 'dhcp' | 'pxe';
  /** Option 60: the firmware sends `PXEClient:Arch:00000:UNDI:002001`; Linux's own DHCP does not. */
  vendorClass?: string | undefined;
}

export interface TransferSeen {
  file: string;
  remoteAddress: string;
  remotePort: number;
  bytes?: number;
  blocks?: number;
  durationMs?: number;
  retransmits?: number;
  options?: Record<string, string>;
  error?: { code?: string; message?: string } | undefined;
}

interface NodeEntry {
  node: TimelineNode;
  boots: BootRecord[];
  nextId: number;
  learnedMac?: string;
}

interface OpenTransfer {
  entry: NodeEntry;
  boot: BootRecord;
  step: FileStep;
}

/** Open transfers tracked at once (a flood of requests cannot grow the table without bound). */
const MAX_OPEN = 4096;

/** Events: 'change' (hostname) whenever a node's timeline or state changed. */
export class BootTimeline extends EventEmitter {
  readonly metrics = new BootMetrics();
  private readonly rules: BootRules;
  private readonly maxBoots: number;
  private readonly maxFiles: number;
  private readonly now: () => number;
  private entries = new Map<string, NodeEntry>();
  private bySerial = new Map<string, NodeEntry>();
  private byMac = new Map<string, NodeEntry>();
  private byAddress = new Map<string, NodeEntry>();
  private readonly open = new Map<string, OpenTransfer>();
  /** The state each boot was last reported in (metrics count each boot's end once). */
  private readonly reported = new WeakMap<BootRecord, BootState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: TimelineOptions = {}) {
    super();
    this.rules = {
      stallMs: options.stallMs ?? 10_000,
      quietGapMs: options.quietGapMs ?? 30_000,
      roles: options.roles ?? firmwareFileRoles(),
    };
    this.maxBoots = options.maxBoots ?? 10;
    this.maxFiles = options.maxFiles ?? 256;
    this.now = options.now ?? Date.now;
  }

  /** The manifest's nodes; boots of nodes that stay are kept. */
  setNodes(nodes: readonly TimelineNode[]): void {
    const previous = this.entries;
    this.entries = new Map();
    this.bySerial = new Map();
    this.byMac = new Map();
    const addresses = new Map<string, NodeEntry>();
    for (const node of nodes) {
      const old = previous.get(node.hostname);
      const entry: NodeEntry = {
        node: { ...node },
        boots: old?.boots ?? [],
        nextId: old?.nextId ?? 1,
        ...(old?.learnedMac ? { learnedMac: old.learnedMac } : {}),
      };
      if (!node.address && old?.node.address) entry.node.address = old.node.address;
      this.entries.set(node.hostname, entry);
      if (node.serial) this.bySerial.set(node.serial.toLowerCase(), entry);
      if (node.mac) this.byMac.set(node.mac.toLowerCase(), entry);
      // A Pi 3B ROM's DISCOVER has no serial: its MAC, derived from the serial, names the node.
      else if (node.serial && node.model && isPiModelName(node.model) && piModel(node.model).family === 'pi3')
        this.byMac.set(pi3MacFromSerial(node.serial), entry);
      if (entry.node.address) addresses.set(entry.node.address, entry);
    }
    this.byAddress = addresses;
  }

  /** A DISCOVER or REQUEST from a Pi (through the proxyDHCP responder). */
  dhcpClient(seen: DhcpSeen): void {
    const entry =
      (seen.serial ? this.bySerial.get(seen.serial.toLowerCase()) : undefined) ??
      this.byMac.get(seen.mac.toLowerCase());
    if (!entry) return;
    if (seen.messageType !== DhcpMessageType.DISCOVER && seen.messageType !== DhcpMessageType.REQUEST) return;
    const now = this.now();
    let boot = this.latest(entry);
    // The booted OS asks for its address too (a Pi MAC, no PXEClient option 60): not a firmware boot.
    const firmware = seen.vendorClass?.startsWith('PXEClient') ?? false;
    if (!firmware && (seen.messageType === DhcpMessageType.DISCOVER || !boot || boot.files.length > 0))
      return;
    entry.learnedMac = seen.mac.toLowerCase();
    if (seen.messageType === DhcpMessageType.DISCOVER && discoverStartsBoot(boot, now, this.rules))
      boot = this.newBoot(entry, now, 'dhcp');
    if (!boot) boot = this.newBoot(entry, now, 'dhcp');
    boot.dhcp.push({
      kind: seen.messageType === DhcpMessageType.DISCOVER ? 'discover' : 'request',
      at: now,
      via: seen.via,
    });
    this.keepDhcpBounded(boot);
    boot.lastEventAt = now;
    this.changed(entry);
  }

  /** The proxy sent its boot reply to `mac`. */
  dhcpOffer(offer: { mac: string; via: 'dhcp' | 'pxe' }): void {
    const entry = this.byMac.get(offer.mac.toLowerCase()) ?? this.byLearnedMac(offer.mac);
    const boot = entry ? this.latest(entry) : undefined;
    // Offers to the booted OS's own DHCP are not part of the firmware's boot.
    if (!entry || !boot || boot.handoverAt !== undefined) return;
    const now = this.now();
    boot.dhcp.push({ kind: 'offer', at: now, via: offer.via });
    this.keepDhcpBounded(boot);
    boot.lastEventAt = now;
    this.changed(entry);
  }

  /** A TFTP read request. */
  tftpRequest(seen: TransferSeen): void {
    const found = this.resolve(seen);
    if (!found) return;
    const { entry, file } = found;
    const now = this.now();
    let boot = this.latest(entry);
    if (!boot || requestStartsBoot(boot, file, now, this.rules)) boot = this.newBoot(entry, now, 'tftp');
    boot.lastEventAt = now;
    boot.address = seen.remoteAddress;
    entry.node.address = seen.remoteAddress;
    this.byAddress.set(seen.remoteAddress, entry);
    if (boot.files.length >= this.maxFiles) {
      boot.filesDropped += 1;
      this.changed(entry);
      return;
    }
    const step: FileStep = { file, at: now, bytes: 0, retransmits: 0, result: 'in-progress' };
    boot.files.push(step);
    if (this.open.size >= MAX_OPEN) {
      const oldest = this.open.keys().next().value;
      if (oldest !== undefined) this.open.delete(oldest);
    }
    this.open.set(transferKey(seen), { entry, boot, step });
    this.changed(entry);
  }

  /** A transfer ended: 'complete', 'aborted' (client ended it) or 'failed'. */
  tftpEnd(outcome: TransferEnd['outcome'], seen: TransferSeen): void {
    const key = transferKey(seen);
    const open = this.open.get(key);
    if (!open) return;
    this.open.delete(key);
    const { entry, boot, step } = open;
    const now = this.now();
    step.endAt = now;
    step.bytes = seen.bytes ?? 0;
    step.retransmits = seen.retransmits ?? 0;
    if (seen.durationMs !== undefined) {
      step.durationMs = Math.round(seen.durationMs * 10) / 10;
      if (seen.durationMs > 0) step.rate = Math.round((step.bytes * 1000) / seen.durationMs);
    }
    step.result = fileResult(
      step.file,
      {
        outcome,
        ...(seen.options ? { options: seen.options } : {}),
        ...(seen.blocks !== undefined ? { blocks: seen.blocks } : {}),
        ...(seen.error?.code ? { errorCode: seen.error.code } : {}),
      },
      this.rules.roles,
    );
    if (seen.error?.message && step.result !== 'expected-missing' && step.result !== 'optional-missing')
      step.error = seen.error.message;
    boot.lastEventAt = now;
    if (step.result === 'complete') this.noteHandover(boot, step, now);
    this.changed(entry);
  }

  /**
   * The node reports multi-user.target. Only marks a timestamp, and only for the node whose serial and
   * address both match; returns its hostname, or undefined when nothing matched.
   */
  userspaceUp(report: { address: string; serial: string }): string | undefined {
    const entry = this.bySerial.get(report.serial.toLowerCase());
    if (!entry || entry.node.address !== report.address) return undefined;
    const boot = this.latest(entry);
    if (!boot) return undefined;
    boot.userspaceUpAt = this.now();
    this.changed(entry);
    return entry.node.hostname;
  }

  /** The node's boots, newest first; undefined for a hostname the manifest does not have. */
  boots(hostname: string): BootView[] | undefined {
    const entry = this.entries.get(hostname);
    if (!entry) return undefined;
    const now = this.now();
    return [...entry.boots].reverse().map((b) => judgeBoot(b, now, this.rules));
  }

  /** The manifest node a DHCP client is (by serial, then MAC), if any. */
  nodeFor(client: { serial?: string | undefined; mac: string }): string | undefined {
    const entry =
      (client.serial ? this.bySerial.get(client.serial.toLowerCase()) : undefined) ??
      this.byMac.get(client.mac.toLowerCase()) ??
      this.byLearnedMac(client.mac);
    return entry?.node.hostname;
  }

  /** The node's latest boot, judged now; undefined when it has none (or is not a manifest node). */
  latestBoot(hostname: string): BootView | undefined {
    const entry = this.entries.get(hostname);
    const boot = entry ? this.latest(entry) : undefined;
    return boot ? judgeBoot(boot, this.now(), this.rules) : undefined;
  }

  /** One row per manifest node. */
  fleet(): NodeStatus[] {
    const now = this.now();
    return [...this.entries.values()].map((entry) => {
      const { node } = entry;
      const boot = this.latest(entry);
      const view = boot ? judgeBoot(boot, now, this.rules) : undefined;
      return {
        node: node.hostname,
        ...(node.model !== undefined ? { model: node.model } : {}),
        ...(node.serial !== undefined ? { serial: node.serial } : {}),
        ...(node.mac !== undefined ? { mac: node.mac } : {}),
        ...(node.address !== undefined ? { address: node.address } : {}),
        state: view?.state ?? 'never-seen',
        ...(view ? { lastBootAt: view.startedAt, lastBootMs: view.durationMs } : {}),
        ...(view?.userspaceUpAt !== undefined ? { userspaceUpAt: view.userspaceUpAt } : {}),
        ...(view?.failure ? { failure: view.failure } : {}),
        boots: entry.boots.length,
      };
    });
  }

  /** Re-judge every node's latest boot (a boot goes 'failed' by staying quiet, with no event). */
  tick(): void {
    for (const entry of this.entries.values()) this.settle(entry);
  }

  /** Tick every `intervalMs` until stop(). */
  start(intervalMs = 1000): void {
    this.stop();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private resolve(seen: TransferSeen): { entry: NodeEntry; file: string } | undefined {
    const path = parseTftpPath(seen.file);
    path.rest = safeFileName(path.rest);
    const prefix = path.prefix;
    if (prefix?.kind === 'serial') {
      const entry = this.bySerial.get(prefix.serial);
      return entry ? { entry, file: path.rest } : undefined;
    }
    if (prefix?.kind === 'mac') {
      const entry = this.byMac.get(prefix.mac);
      return entry ? { entry, file: path.rest } : undefined;
    }
    // Root files (bootcode.bin, bootsig.bin) carry no prefix: only a node's known address names it.
    const entry = this.byAddress.get(seen.remoteAddress);
    return entry ? { entry, file: path.rest } : undefined;
  }

  /** A serial-only node is matched to the proxy's offer by the MAC its request came from. */
  private byLearnedMac(mac: string): NodeEntry | undefined {
    const wanted = mac.toLowerCase();
    return [...this.entries.values()].find((e) => e.learnedMac === wanted);
  }

  private latest(entry: NodeEntry): BootRecord | undefined {
    return entry.boots[entry.boots.length - 1];
  }

  private newBoot(entry: NodeEntry, now: number, startedBy: 'dhcp' | 'tftp'): BootRecord {
    const previous = this.latest(entry);
    if (previous) this.report(previous, judgeBoot(previous, now, this.rules));
    const boot: BootRecord = {
      id: entry.nextId++,
      node: entry.node.hostname,
      startedAt: now,
      startedBy,
      lastEventAt: now,
      dhcp: [],
      files: [],
      filesDropped: 0,
    };
    entry.boots.push(boot);
    while (entry.boots.length > this.maxBoots) entry.boots.shift();
    return boot;
  }

  private keepDhcpBounded(boot: BootRecord): void {
    while (boot.dhcp.length > 32) boot.dhcp.shift();
  }

  /** The kernel, then the initramfs that follows it, mark the handover to Linux. */
  private noteHandover(boot: BootRecord, step: FileStep, now: number): void {
    const name = baseName(step.file);
    const roles = this.rules.roles;
    const isKernel = roles.kernels.has(name) || /^(kernel|vmlinu[xz]|zImage|Image)/.test(name);
    if (isKernel) {
      boot.kernel = step.file;
      boot.handoverAt = now;
    } else if (boot.kernel !== undefined && (roles.initramfs.has(name) || /^initr/.test(name))) {
      boot.initramfs = step.file;
      boot.handoverAt = now;
    }
  }

  private changed(entry: NodeEntry): void {
    this.settle(entry);
    this.emit('change', entry.node.hostname);
  }

  private settle(entry: NodeEntry): void {
    const boot = this.latest(entry);
    if (!boot) return;
    const view = judgeBoot(boot, this.now(), this.rules);
    if (this.report(boot, view)) this.emit('change', entry.node.hostname);
  }

  /** Count a boot's end in the metrics once; returns true when its state changed since last time. */
  private report(boot: BootRecord, view: BootView): boolean {
    const before = this.reported.get(boot);
    if (before === view.state) return false;
    this.reported.set(boot, view.state);
    if (view.state !== 'booting' && before !== 'up' && before !== 'failed') this.metrics.observe(view);
    return true;
  }
}

const transferKey = (seen: TransferSeen) => `${seen.remoteAddress}:${seen.remotePort}:${seen.file}`;
