/**
 * The TFTP server: request admission (limits, priority of known clients), the request pipeline (remap,
 * rewrite hook, handlers, RFC 2347 negotiation), the choice of a transfer engine, and events. Sockets and
 * demultiplexing live in transport.ts; moving blocks in engines/ (TypeScript read and write, native pump);
 * the protocol state machines in sender.ts / receiver.ts.
 */
import type { RemoteInfo } from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { type Logger, silentLogger } from '@bramble/logger';
import { BufferBudget } from './buffer-budget.js';
import { JsReadEngine } from './engines/js-read.js';
import { JsWriteEngine } from './engines/js-write.js';
import { NativeReadEngine, pumpableSize } from './engines/native-read.js';
import { accessDenied, ErrorCode, notFound, TftpConfigError, TftpError, TftpRequestError } from './errors.js';
import { type NativePump, nativePump, nativePumpStatus } from './native.js';
import { type Negotiated, negotiateServer, type RolloverPolicy } from './negotiation.js';
import { netasciiSource } from './netascii.js';
import { encode, errorPacket, Opcode, type RequestPacket } from './packet.js';
import { compileRemap } from './remap.js';
import { resolveServerConfig, type ServerConfig, type ServerOptions } from './server-config.js';
import { type ReadSource, toReadSource } from './source.js';
import { type EngineHooks, type Outcome, shutdownError, Transfer } from './transfer.js';
import { type Listener, type ListenOptions, type ServerAddress, Transport } from './transport.js';
import type { ReadHandler, RequestContext, RequestPriority, TransferEvent, WriteHandler } from './types.js';

export type { ListenOptions, ServerAddress } from './transport.js';

export interface CloseOptions {
  /** Wait this long for running transfers to finish, then abort them with ERROR 0 (default 5000 ms). */
  deadlineMs?: number;
}

/** Events: 'request' | 'start' | 'complete' | 'aborted' | 'failed', each with a `TransferEvent`; 'error' for socket errors. */
export interface TftpServerEvents {
  request: [TransferEvent];
  start: [TransferEvent];
  complete: [TransferEvent];
  aborted: [TransferEvent];
  failed: [TransferEvent];
  error: [Error];
}

/** An embeddable TFTP server. Create with `createServer()`. */
export class TftpServer extends EventEmitter<TftpServerEvents> {
  private readonly config: ServerConfig;
  private readonly log: Logger;
  private readonly remap: ReturnType<typeof compileRemap>;
  private readonly transport: Transport;
  private readonly budget: BufferBudget;
  private readonly pump: NativePump | null;
  private handler: ReadHandler;
  private writeHandler: WriteHandler | undefined;
  private readonly transfers = new Set<Transfer>();
  private readonly perClient = new Map<string, number>();
  private active = 0;
  private drained: (() => void) | undefined;
  private limited = 0;
  private limitLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(options: ServerOptions) {
    super();
    this.config = resolveServerConfig(options);
    const config = this.config;
    this.log = (config.logger ?? silentLogger).child({ component: 'tftp-server' });
    this.remap = compileRemap(config.remap);
    this.handler = config.handler;
    this.writeHandler = config.writeHandler;
    this.budget = new BufferBudget(config.bufferBytes);
    this.transport = new Transport(config, this.log, (listener, request, remote) =>
      this.admit(listener, request, remote),
    );
    // Single-port mode demultiplexes on the listening socket, which stays in JavaScript: no pump.
    if (config.engine === 'native' && config.singlePort)
      throw new TftpConfigError(
        "engine 'native' needs per-transfer ports: it cannot be combined with singlePort",
      );
    this.pump = config.engine === 'js' || config.singlePort ? null : nativePump(config.pumpThreads);
    if (config.engine === 'native' && !this.pump)
      throw new TftpConfigError(
        `engine 'native' requested but ${nativePumpStatus().reason ?? 'unavailable'}`,
      );
  }

  /** 'native' when read transfers are moved by the native pump (see the `engine` option), else 'js'. */
  get engine(): 'native' | 'js' {
    return this.pump ? 'native' : 'js';
  }

  /** Replace the read handler atomically (reloads); running transfers keep the source they already opened. */
  setHandler(handler: ReadHandler): void {
    if (typeof handler !== 'function') throw new TftpConfigError('handler must be a function');
    this.handler = handler;
  }

  /** Replace (or remove) the write handler. */
  setWriteHandler(handler: WriteHandler | undefined): void {
    this.writeHandler = handler;
  }

  /** Number of transfers in progress. */
  get activeTransfers(): number {
    return this.active;
  }

  /** Bytes of read-ahead buffers reserved now (see the `bufferBytes` option). */
  get bufferedBytes(): number {
    return this.budget.inUse;
  }

  /** Start serving. With a pre-bound `socket` option, the socket is used as is. */
  async listen(options: ListenOptions = {}): Promise<ServerAddress> {
    if (this.transport.listening) throw new TftpError('ALREADY_LISTENING', 'server is already listening');
    this.transport.accepting = true;
    return this.transport.listen(options);
  }

  /** The first listening address (`addresses()` lists all). */
  address(): ServerAddress {
    return this.transport.address();
  }

  addresses(): ServerAddress[] {
    return this.transport.addresses();
  }

  /** Stop accepting requests, let running transfers finish until the deadline, then abort the rest. */
  async close(options: CloseOptions = {}): Promise<void> {
    const deadline = options.deadlineMs ?? 5000;
    this.transport.accepting = false;
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.drained = undefined;
    }
    const running = [...this.transfers].filter((t) => !t.ended);
    await Promise.all(
      running.map((t) => {
        if (t.engine) return t.engine.cancel();
        this.finish(t, 'failed', shutdownError());
        return undefined;
      }),
    );
    // Dallying writes and transfers still opening their source: let go now.
    for (const t of [...this.transfers]) {
      t.engine?.dispose('failed');
      this.forget(t);
    }
    await this.transport.close();
    this.log.info('TFTP server closed');
  }

  /** A decoded request from a client with no transfer running: give it a slot, or drop/refuse it. */
  private admit(listener: Listener, request: RequestPacket, remote: RemoteInfo): void {
    const key = `${remote.address}:${remote.port}`;
    const priority = this.classify(request, remote, listener);
    const slots =
      priority === 'known' ? this.config.maxTransfers : this.config.maxTransfers - this.config.knownReserve;
    const perClient = this.perClient.get(remote.address) ?? 0;
    if (this.active >= slots || perClient >= this.config.maxTransfersPerClient) {
      this.logLimit(key, request.filename, priority);
      if (this.config.onLimit === 'error')
        this.transport.reply(
          listener,
          errorPacket(ErrorCode.NOT_DEFINED, 'Server busy, try again later'),
          remote,
        );
      return;
    }
    const t = new Transfer(request, remote, listener, priority);
    this.transfers.add(t);
    this.transport.claim(key);
    this.perClient.set(remote.address, perClient + 1);
    this.active++;
    this.begin(t).catch((e) => this.refuse(t, e));
  }

  /** One warning per second at most, with the number of requests turned away since the last one (floods). */
  private logLimit(client: string, file: string, priority: RequestPriority): void {
    this.limited++;
    const now = performance.now();
    if (now - this.limitLoggedAt < 1000) return;
    this.log.warn(
      { client, file, active: this.active, priority, refused: this.limited },
      'transfer limit reached',
    );
    this.limitLoggedAt = now;
    this.limited = 0;
  }

  private classify(request: RequestPacket, remote: RemoteInfo, listener: Listener): RequestPriority {
    const classify = this.config.classify;
    if (!classify) return 'known';
    try {
      const verdict = classify({
        file: request.filename,
        write: request.op === Opcode.WRQ,
        mode: request.mode,
        remoteAddress: remote.address,
        remotePort: remote.port,
        localAddress: listener.localAddress,
      });
      return verdict === 'known' ? 'known' : 'unknown';
    } catch (e) {
      this.log.warn({ err: e }, 'classify hook threw: request counted as unknown');
      return 'unknown';
    }
  }

  private event(t: Transfer, error?: TftpError): TransferEvent {
    const stats = t.stats();
    const ev: TransferEvent = {
      file: t.file,
      requestedFile: t.request.filename,
      direction: t.write ? 'write' : 'read',
      mode: t.request.mode === 'netascii' ? 'netascii' : 'octet',
      remoteAddress: t.remote.address,
      remotePort: t.remote.port,
      localAddress: t.listener.localAddress,
      options: t.options,
      bytes: stats.bytes,
      blocks: stats.blocks,
      retransmits: stats.retransmits,
      durationMs: performance.now() - t.startedAt,
    };
    if (error) ev.error = error;
    if (stats.finalAckMissing) ev.finalAckMissing = true;
    return ev;
  }

  /** A request refused before any transfer started: ERROR to the client from the listening socket. */
  private refuse(t: Transfer, e: unknown): void {
    if (t.ended) return;
    let err: TftpError;
    let code: number = ErrorCode.NOT_DEFINED;
    let message: string;
    if (e instanceof TftpRequestError) {
      err = e;
      code = e.tftpCode;
      message = e.message;
    } else if (e instanceof TftpError) {
      err = e;
      message = e.message;
    } else {
      err = new TftpError('HANDLER_ERROR', `handler failed: ${String((e as Error)?.message ?? e)}`, {
        cause: e,
      });
      message = 'Internal server error';
      this.log.error({ err: e, file: t.file }, 'TFTP handler threw');
    }
    this.transport.reply(t.listener, errorPacket(code, message), t.remote);
    this.finish(t, 'failed', err);
  }

  /** The request pipeline: mode, remap, rewrite, handler, negotiation; then an engine takes over. */
  private async begin(t: Transfer): Promise<void> {
    const { request, remote, listener } = t;
    if (request.mode !== 'octet' && request.mode !== 'netascii') {
      throw new TftpRequestError(
        'BAD_MODE',
        ErrorCode.ILLEGAL_OPERATION,
        `Unsupported mode '${request.mode}'`,
      );
    }
    const mode = request.mode;
    const write = t.write;
    const base = {
      requestedFile: request.filename,
      mode,
      options: request.options,
      remoteAddress: remote.address,
      remotePort: remote.port,
      localAddress: listener.localAddress,
    } as const;
    const mapped = this.remap(request.filename, { remoteAddress: remote.address, write });
    if (mapped.denied) throw accessDenied('Access violation');
    let file = mapped.file;
    if (this.config.rewrite) {
      const rewritten = await this.config.rewrite(file, base);
      if (rewritten === null) throw accessDenied('Access violation');
      file = rewritten;
    }
    t.file = file;
    const context: RequestContext = { ...base, file };
    const tsizeRequested = request.options.tsize;
    if (write && tsizeRequested !== undefined && /^\d+$/.test(tsizeRequested))
      context.size = Number(tsizeRequested);
    this.emit('request', this.event(t));
    if (t.ended) return;
    if (write) await this.beginWrite(t, context);
    else await this.beginRead(t, context);
  }

  private negotiate(t: Transfer, size: number | undefined): Negotiated {
    return negotiateServer(t.request.options, {
      write: t.write,
      octet: t.request.mode === 'octet',
      size,
      limits: { blksizeMax: this.config.blksizeMax, windowsizeMax: this.config.windowsizeMax },
    });
  }

  private async beginRead(t: Transfer, context: RequestContext): Promise<void> {
    const response = await this.handler(context);
    if (response === null || response === undefined) throw notFound();
    let source = await toReadSource(response);
    if (t.ended) {
      await source.close();
      return;
    }
    if (context.mode === 'netascii') source = await this.netascii(source);
    let negotiated: Negotiated;
    try {
      negotiated = this.negotiate(t, source.size);
    } catch (e) {
      await source.close();
      throw e;
    }
    t.options = negotiated.oack;
    const hooks = this.hooks(t);
    const oack = this.oackFor(negotiated);
    const timeoutMs = negotiated.timeoutMs ?? this.config.timeoutMs;
    const rollover = this.rolloverFor(negotiated);
    const size = this.pump ? pumpableSize(source, t.listener.localAddress, t.remote.address) : undefined;
    // Refusing large files is the TypeScript sender's job (it answers with a clear ERROR).
    const tooManyBlocks =
      size !== undefined && rollover === 'refuse' && Math.floor(size / negotiated.blksize) + 1 > 0xffff;
    if (this.pump && size !== undefined && !tooManyBlocks) {
      const engine = new NativeReadEngine({
        pump: this.pump,
        transport: this.transport,
        hooks,
        budget: this.budget,
        source,
        size,
        file: t.file,
        localAddress: t.listener.localAddress,
        remote: t.remote,
        blksize: negotiated.blksize,
        windowsize: negotiated.windowsize,
        timeoutMs,
        retries: this.config.retries,
        firstReplyTimeoutMs: this.config.firstReplyTimeoutMs,
        rollTo: rollover === 'wrap1' ? 1 : 0,
        oack,
      });
      try {
        engine.start();
      } catch (e) {
        await source.close();
        throw e;
      }
      t.engine = engine;
      this.emit('start', this.event(t));
      return;
    }
    const channel = await this.openChannel(t, () => source.close());
    if (!channel) return;
    const engine = new JsReadEngine({
      channel,
      hooks,
      source,
      file: t.file,
      remote: t.remote,
      blksize: negotiated.blksize,
      windowsize: negotiated.windowsize,
      timeoutMs,
      retries: this.config.retries,
      rollover,
      firstReplyTimeoutMs: this.config.firstReplyTimeoutMs,
      budget: this.budget,
      oack,
    });
    t.engine = engine;
    this.emit('start', this.event(t));
    engine.start();
  }

  private async beginWrite(t: Transfer, context: RequestContext): Promise<void> {
    if (!this.writeHandler) throw accessDenied('Writes are disabled');
    const negotiated = this.negotiate(t, undefined);
    const writable: Writable = await this.writeHandler(context);
    if (t.ended) {
      writable.destroy();
      return;
    }
    t.options = negotiated.oack;
    const channel = await this.openChannel(t, () => writable.destroy());
    if (!channel) return;
    const engine = new JsWriteEngine({
      channel,
      hooks: this.hooks(t),
      writable,
      netascii: context.mode === 'netascii',
      file: t.file,
      remote: t.remote,
      blksize: negotiated.blksize,
      windowsize: negotiated.windowsize,
      timeoutMs: negotiated.timeoutMs ?? this.config.timeoutMs,
      retries: this.config.retries,
      firstReplyTimeoutMs: this.config.firstReplyTimeoutMs,
      rollover: negotiated.rollover,
      initial: this.oackFor(negotiated) ?? encode({ op: Opcode.ACK, block: 0 }),
      dallyMs: Math.min(1000, this.config.timeoutMs),
    });
    t.engine = engine;
    this.emit('start', this.event(t));
    engine.start();
  }

  /** The transfer's channel; undefined (and `release` run) when the transfer ended while it was opened. */
  private async openChannel(t: Transfer, release: () => unknown) {
    try {
      const channel = await this.transport.open(t.listener, t.remote, t.key);
      if (!t.ended) return channel;
      channel.close();
    } catch (e) {
      await release();
      throw e;
    }
    await release();
    return undefined;
  }

  /** netascii is converted as it is read (RFC 1350: sizes differ from the file, so tsize is not offered). */
  private async netascii(source: ReadSource): Promise<ReadSource> {
    if (source.size !== undefined && source.size > this.config.netasciiMaxBytes) {
      await source.close();
      throw new TftpRequestError('TOO_LARGE', ErrorCode.NOT_DEFINED, 'File too large for netascii mode');
    }
    return netasciiSource(source);
  }

  /** RFC 2347 §2: an OACK only if an option was accepted; otherwise DATA 1 (RRQ) / ACK 0 (WRQ). */
  private oackFor(negotiated: Negotiated): Buffer | undefined {
    return Object.keys(negotiated.oack).length > 0
      ? encode({ op: Opcode.OACK, options: negotiated.oack })
      : undefined;
  }

  /** The block-number policy of a transfer: the client's `rollover` option (tftp-hpa) wins over the server's. */
  private rolloverFor(negotiated: Negotiated): RolloverPolicy {
    if (negotiated.rollover === undefined) return this.config.rollover;
    return negotiated.rollover === 0 ? 'wrap0' : 'wrap1';
  }

  private hooks(t: Transfer): EngineHooks {
    return {
      end: (outcome, error) => this.finish(t, outcome, error),
      closed: () => this.forget(t),
    };
  }

  /** End a transfer once: emit its event, release its slot, let its engine go. */
  private finish(t: Transfer, outcome: Outcome, error?: TftpError): void {
    if (t.ended) return;
    t.ended = true;
    this.active--;
    const left = (this.perClient.get(t.remote.address) ?? 1) - 1;
    if (left <= 0) this.perClient.delete(t.remote.address);
    else this.perClient.set(t.remote.address, left);
    const ev = this.event(t, error);
    this.logOutcome(t, outcome, ev, error);
    if (t.engine) t.engine.dispose(outcome);
    else this.forget(t);
    this.emit(outcome, ev);
    if (this.active === 0) this.drained?.();
  }

  /** The transfer let go of everything: its client's TID may start a new one. */
  private forget(t: Transfer): void {
    if (!this.transfers.delete(t)) return;
    this.transport.release(t.key);
  }

  private logOutcome(t: Transfer, outcome: Outcome, ev: TransferEvent, error?: TftpError): void {
    if (outcome === 'complete') this.log.debug({ ...ev, error: undefined }, 'transfer complete');
    else if (outcome === 'aborted')
      this.log.debug({ file: ev.file, client: t.key, err: error?.message }, 'transfer aborted by client');
    else if (error instanceof TftpRequestError)
      // Refusals (missing files, denied names) are routine during network boot: firmware probes for files.
      this.log.debug(
        { file: ev.file, client: t.key, code: error.tftpCode, err: error.message },
        'request refused',
      );
    else this.log.warn({ file: ev.file, client: t.key, err: error?.message }, 'transfer failed');
  }
}

/** Create a server; call `listen()` to start it. */
export function createServer(options: ServerOptions): TftpServer {
  return new TftpServer(options);
}
