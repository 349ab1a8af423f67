/**
 * The native read engine: hands a read transfer (a file descriptor or buffer of known size, IPv4, its own
 * port) to the pump of native/pump.c, which binds the transfer socket and moves every block on its threads.
 */
import { isIPv4 } from 'node:net';
import type { BufferBudget } from '../buffer-budget.js';
import { readAheadBytes } from '../buffer-budget.js';
import { TftpError, TftpRemoteError, TftpTimeoutError } from '../errors.js';
import type { NativePump, PumpResult } from '../native.js';
import type { ReadSource } from '../source.js';
import {
  type EngineHooks,
  type EngineStats,
  shutdownError,
  type TransferEngine,
  unreachableError,
} from '../transfer.js';
import type { Transport } from '../transport.js';

export interface NativeReadParams {
  pump: NativePump;
  transport: Transport;
  hooks: EngineHooks;
  budget: BufferBudget;
  source: ReadSource;
  size: number;
  file: string;
  localAddress: string;
  remote: { address: string; port: number };
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  retries: number;
  firstReplyTimeoutMs: number;
  rollTo: 0 | 1;
  oack?: Buffer | undefined;
}

/** The size to hand the pump when it can move this transfer, else undefined (the TypeScript engine does). */
export function pumpableSize(
  source: ReadSource,
  localAddress: string,
  remoteAddress: string,
): number | undefined {
  // The pump speaks IPv4 only (a caller's pre-bound udp6 socket stays on sender.ts).
  if (!isIPv4(remoteAddress) || !isIPv4(localAddress)) return undefined;
  if (source.buffer) return source.buffer.length;
  return source.fd !== undefined ? source.size : undefined;
}

export class NativeReadEngine implements TransferEngine {
  private result: PumpResult | undefined;
  private id: number | undefined;
  private reserved = 0;
  private settled: (() => void) | undefined;
  private disposed = false;

  constructor(private readonly params: NativeReadParams) {}

  /** Bind and start; throws a TftpError (NO_PORT, BIND_FAILED) when no socket could be bound. */
  start(): void {
    const { pump, transport, source, budget } = this.params;
    const ports = transport.portSearch();
    // The pump's read-ahead: reserved in the server's budget, else one block (files only; buffers need none).
    const readAhead = readAheadBytes(this.params.blksize, this.params.windowsize);
    let chunkBytes = this.params.blksize;
    if (!source.buffer && budget.take(readAhead)) {
      this.reserved = readAhead;
      chunkBytes = readAhead;
    }
    try {
      const started = pump.start(
        {
          localAddress: this.params.localAddress,
          portLow: ports.low,
          portHigh: ports.high,
          portCursor: ports.cursor,
          address: this.params.remote.address,
          port: this.params.remote.port,
          ...(source.buffer ? { buffer: source.buffer } : { fd: source.fd as number }),
          size: this.params.size,
          blksize: this.params.blksize,
          windowsize: this.params.windowsize,
          timeoutMs: this.params.timeoutMs,
          retries: this.params.retries,
          firstReplyTimeoutMs: this.params.firstReplyTimeoutMs,
          chunkBytes,
          rollTo: this.params.rollTo,
          ...(this.params.oack ? { initial: this.params.oack } : {}),
        },
        (r) => this.finished(r),
      );
      this.id = started.id;
      if (ports.low > 0) transport.portTaken(started.port);
    } catch (e) {
      this.releaseBudget();
      const code = (e as NodeJS.ErrnoException).code;
      const message = (e as Error).message;
      throw code === 'NO_PORT'
        ? new TftpError(
            'NO_PORT',
            ports.low > 0 ? `no free port in range ${ports.low}-${ports.high}` : message,
          )
        : new TftpError('BIND_FAILED', message);
    }
  }

  stats(): EngineStats {
    const r = this.result;
    return r
      ? { bytes: r.bytes, blocks: r.blocks, retransmits: r.retransmits, finalAckMissing: r.finalAckMissing }
      : { bytes: 0, blocks: 0, retransmits: 0, finalAckMissing: false };
  }

  /** The pump sends ERROR 0 itself and reports back (the source stays open until then); at most 2 s. */
  cancel(): Promise<void> {
    if (this.id === undefined || this.result) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      this.settled = () => {
        clearTimeout(timer);
        resolve();
      };
      this.params.pump.cancel(this.id as number);
    });
  }

  /** Called once the transfer ended; the source is closed only when the pump no longer reads it. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.id === undefined || this.result) this.closeSource();
  }

  private finished(r: PumpResult): void {
    this.result = r;
    this.releaseBudget();
    const { hooks } = this.params;
    if (r.status === 'complete') hooks.end('complete');
    else if (r.status === 'aborted')
      hooks.end('aborted', new TftpRemoteError(r.errorCode, r.message, this.params.file));
    else if (r.status === 'cancelled') hooks.end('failed', shutdownError());
    else if (r.kind === 'TIMEOUT') hooks.end('failed', new TftpTimeoutError(r.message));
    else if (r.kind === 'UNREACHABLE') hooks.end('failed', unreachableError(this.params.remote));
    else hooks.end('failed', new TftpError(r.kind || 'PUMP_ERROR', r.message));
    if (this.disposed) this.closeSource();
    this.settled?.();
  }

  private sourceClosed = false;

  private closeSource(): void {
    if (this.sourceClosed) return;
    this.sourceClosed = true;
    Promise.resolve(this.params.source.close()).catch(() => {});
    this.params.hooks.closed();
  }

  private releaseBudget(): void {
    if (this.reserved > 0) this.params.budget.give(this.reserved);
    this.reserved = 0;
  }
}
