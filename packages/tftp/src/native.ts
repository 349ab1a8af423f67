/**
 * The optional native data pump (native/pump.c, built into dist/tftp_pump.node by scripts/build-native.mjs).
 * It runs the DATA/ACK phase of read transfers on its own epoll threads, following exactly the rules of
 * sender.ts, so a block costs a recvfrom and a sendmsg instead of a trip through the JavaScript event loop.
 * Everything else (requests, negotiation, handlers, events) stays in TypeScript. When the addon is missing
 * (no compiler at install, not Linux) or `BRAMBLE_TFTP_NATIVE=0` is set, the server uses sender.ts.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

/** One read transfer handed to the pump. */
export interface PumpSpec {
  /** Local address to bind the transfer socket to (the address the request arrived on). */
  localAddress: string;
  /** Inclusive port range for the transfer socket; 0/0 = any free port. */
  portLow: number;
  portHigh: number;
  /** Where in the range to start looking (round robin). */
  portCursor: number;
  /** Client address (IPv4 literal) and port: the transfer's peer TID. */
  address: string;
  port: number;
  /** The content: an open file descriptor (positioned reads) or a buffer. */
  fd?: number;
  buffer?: Buffer;
  size: number;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  retries: number;
  /** Give up this long after the start when the client never answered the first packet. */
  firstReplyTimeoutMs: number;
  /** Read-ahead buffer of a file transfer (whole blocks; at least one); freed while the client stalls. */
  chunkBytes: number;
  /** Block number after 65535: 0 or 1. */
  rollTo: 0 | 1;
  /** OACK to send first (resent until ACK 0); omitted => DATA 1 first. */
  initial?: Buffer;
}

/** How a pumped transfer ended. */
export interface PumpResult {
  id: number;
  status: 'complete' | 'aborted' | 'failed' | 'cancelled';
  bytes: number;
  blocks: number;
  retransmits: number;
  finalAckMissing: boolean;
  /** TFTP error code the client sent (status 'aborted'). */
  errorCode: number;
  /** Error code string for 'failed' (TIMEOUT, UNREACHABLE, PROTOCOL, SOURCE_ERROR, ...). */
  kind: string;
  message: string;
}

interface Addon {
  init(threads: number, onDone: (r: PumpResult) => void): void;
  start(spec: PumpSpec & { id: number; fd: number }): number;
  cancel(id: number): void;
}

let addon: Addon | null | undefined;
let unavailable = '';
let loadedFrom = '';

/** The prebuilt pump package for this platform (an optional dependency), or undefined. */
export function prebuiltPackage(): string | undefined {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return undefined;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? `@bramble/tftp-linux-${process.arch}-gnu` : undefined;
}

function load(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env.BRAMBLE_TFTP_NATIVE === '0') {
    unavailable = 'disabled by BRAMBLE_TFTP_NATIVE=0';
    return null;
  }
  const req = createRequire(import.meta.url);
  const prebuilt = prebuiltPackage();
  // The prebuilt package first; then a local build: dist/index.js loads ./tftp_pump.node, the
  // sources (tests) ../dist/tftp_pump.node.
  const candidates = [...(prebuilt ? [prebuilt] : []), './tftp_pump.node', '../dist/tftp_pump.node'];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      addon = req(candidate) as Addon;
      loadedFrom = candidate;
      return addon;
    } catch (e) {
      failures.push(`${candidate}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  unavailable = prebuilt
    ? `no native pump loaded (${failures.join('; ')})`
    : `no prebuilt pump for ${process.platform}-${process.arch}${process.platform === 'linux' ? ' (glibc x64/arm64 only)' : ''} and no local build (${failures.join('; ')})`;
  return null;
}

/** Half the available CPUs, at least 1 and at most 4. */
export function defaultPumpThreads(): number {
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
}

/** The process-wide pump: worker threads start on first use and serve every server in the process. */
export class NativePump {
  private nextId = 1;
  private readonly pending = new Map<number, (r: PumpResult) => void>();
  readonly threads: number;

  constructor(
    private readonly addon: Addon,
    threads: number,
  ) {
    this.threads = threads;
    addon.init(threads, (r) => {
      const cb = this.pending.get(r.id);
      this.pending.delete(r.id);
      cb?.(r);
    });
  }

  /** Bind the transfer socket and start sending; returns the transfer id and the local port. Throws on bind failure. */
  start(spec: PumpSpec, onDone: (r: PumpResult) => void): { id: number; port: number } {
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    const port = this.addon.start({ ...spec, id, fd: spec.fd ?? -1 });
    this.pending.set(id, onDone);
    return { id, port };
  }

  /** End a transfer with ERROR 0 "Server shutting down"; its result arrives with status 'cancelled'. */
  cancel(id: number): void {
    if (this.pending.has(id)) this.addon.cancel(id);
  }

  get active(): number {
    return this.pending.size;
  }
}

let pump: NativePump | undefined;

/**
 * The native pump, or `null` when it is not available (see `nativePumpStatus`). `threads` applies to the
 * first call only (default: half the available CPUs, 1 to 4 — on 2 cores one pump
 * thread measured ~20% faster than two, which contend with the JS thread and the clients).
 */
export function nativePump(threads?: number): NativePump | null {
  if (pump) return pump;
  const a = load();
  if (!a) return null;
  pump = new NativePump(a, threads ?? defaultPumpThreads());
  return pump;
}

/** Which engine `engine: 'auto'` uses for read transfers in this process, and why. */
export interface NativePumpStatus {
  available: boolean;
  /** 'native' (the C pump) or 'js' (the TypeScript sender). */
  engine: 'native' | 'js';
  /** Where the pump was loaded from: the prebuilt package's name or a local build's path. */
  source?: string;
  /** One sentence: which engine runs and why. */
  reason: string;
}

/** Whether the native pump can be used in this process: which engine runs and why. */
export function nativePumpStatus(): NativePumpStatus {
  if (load())
    return {
      available: true,
      engine: 'native',
      source: loadedFrom,
      reason: `native pump loaded from ${loadedFrom}`,
    };
  return { available: false, engine: 'js', reason: `the TypeScript sender runs: ${unavailable}` };
}
