/**
 * The TFTP server: listening sockets, request admission (limits, remap, handlers, RFC 2347 negotiation)
 * and per-transfer sockets or single-port demultiplexing. The protocol state machines live in
 * sender.ts / receiver.ts; this file only wires them to sockets and events.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Writable } from 'node:stream';
import {
  accessDenied,
  ErrorCode,
  notFound,
  TftpConfigError,
  TftpError,
  TftpRemoteError,
  TftpRequestError,
  TftpTimeoutError,
} from './errors.js';
import { type Logger, silentLogger } from './logger.js';
import { type NativePump, nativePump, nativePumpStatus, type PumpResult } from './native.js';
import { NetasciiDecoder, toNetascii } from './netascii.js';
import { type Negotiated, negotiateServer, type RolloverPolicy } from './options.js';
import { decode, encode, errorPacket, Opcode, peekOpcode, type RequestPacket } from './packet.js';
import { Receiver, type Sink } from './receiver.js';
import { compileRemap } from './remap.js';
import { Sender } from './sender.js';
import { type ResolvedServerOptions, type ServerOptions, ServerOptionsSchema } from './server-options.js';
import { bufferSource, type ReadSource, toReadSource } from './source.js';
import type { ReadHandler, RequestContext, TransferEvent, WriteHandler } from './types.js';
import { udp4Socket } from './udp.js';

export interface ListenOptions {
  /**
   * IPv4 address(es). '0.0.0.0' (default) binds one socket per local IPv4 address present at listen time, so
   * replies leave from the address the request arrived on (Node's dgram cannot report the arrival address).
   */
  address?: string | readonly string[];
  /** Default 69; 0 picks a free port (the same one on every address). */
  port?: number;
}

export interface CloseOptions {
  /** Wait this long for running transfers to finish, then abort them with ERROR 0 (default 5000 ms). */
  deadlineMs?: number;
}

export interface ServerAddress {
  address: string;
  port: number;
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

interface Listener {
  socket: Socket;
  localAddress: string;
  owned: boolean;
}

type Outcome = 'complete' | 'aborted' | 'failed';

class Transfer {
  readonly key: string;
  readonly startedAt = performance.now();
  socket: Socket | undefined;
  ownSocket = false;
  sender: Sender | undefined;
  receiver: Receiver | undefined;
  source: ReadSource | undefined;
  writable: Writable | undefined;
  ended = false;
  options: Record<string, string> = {};
  file: string;
  /** Set while the native pump moves this transfer's blocks. */
  pumpId: number | undefined;
  pumpResult: PumpResult | undefined;
  pumpDone: (() => void) | undefined;

  constructor(
    readonly server: TftpServer,
    readonly req: RequestPacket,
    readonly remote: RemoteInfo,
    readonly listener: Listener,
  ) {
    this.key = `${remote.address}:${remote.port}`;
    this.file = req.filename;
  }

  get write(): boolean {
    return this.req.op === Opcode.WRQ;
  }

  send = (buf: Buffer, len: number): void => {
    this.socket?.send(buf, 0, len, this.remote.port, this.remote.address);
  };

  /** A datagram from the client's TID. */
  onPacket(msg: Buffer): void {
    const op = peekOpcode(msg);
    if (op === Opcode.ACK) {
      if (this.sender && msg.length >= 4) this.sender.onAck(msg.readUInt16BE(2));
      else if (!this.sender) this.illegal('ACK during a write transfer');
    } else if (op === Opcode.DATA) {
      if (this.receiver && msg.length >= 4) this.receiver.onData(msg.readUInt16BE(2), msg.subarray(4));
      else if (!this.receiver) this.illegal('DATA during a read transfer');
    } else if (op === Opcode.ERROR) {
      if (this.ended) return;
      // A client ERROR ends the transfer at once; it is an abort (firmware size probes), not a failure.
      let code = 0;
      let message = '';
      try {
        const p = decode(msg);
        if (p.op === Opcode.ERROR) {
          code = p.code;
          message = p.message;
        }
      } catch {
        /* keep defaults */
      }
      this.server._finish(this, 'aborted', new TftpRemoteError(code, message, this.file));
    } else if (op === Opcode.OACK) {
      this.illegal('OACK sent to a server');
    }
    // RRQ/WRQ from the same TID are duplicates of the request: ignored. Unknown opcodes: dropped.
  }

  private illegal(what: string): void {
    if (this.ended) return;
    const pkt = errorPacket(ErrorCode.ILLEGAL_OPERATION, 'Illegal TFTP operation');
    this.socket?.send(pkt, this.remote.port, this.remote.address);
    this.server._finish(this, 'failed', new TftpError('PROTOCOL', what));
  }

  stats(): { bytes: number; blocks: number; retransmits: number } {
    const p = this.pumpResult;
    if (p) return { bytes: p.bytes, blocks: p.blocks, retransmits: p.retransmits };
    const m = this.sender ?? this.receiver;
    return m
      ? { bytes: m.bytes, blocks: m.blocks, retransmits: m.retransmits }
      : { bytes: 0, blocks: 0, retransmits: 0 };
  }
}

/** An embeddable TFTP server. Create with `createServer()`. */
export class TftpServer extends EventEmitter<TftpServerEvents> {
  private readonly o: ResolvedServerOptions;
  private readonly log: Logger;
  private readonly remap: ReturnType<typeof compileRemap>;
  private handler: ReadHandler;
  private writeHandler: WriteHandler | undefined;
  private bound: Listener[] = [];
  private readonly transfers = new Map<string, Transfer>();
  private readonly perClient = new Map<string, number>();
  private active = 0;
  private closing = false;
  private drained: (() => void) | undefined;
  private portCursor = 0;
  private readonly pump: NativePump | null;

  constructor(options: ServerOptions) {
    super();
    const parsed = ServerOptionsSchema.safeParse(options);
    if (!parsed.success) throw new TftpConfigError(`invalid TFTP server options: ${parsed.error.message}`);
    this.o = parsed.data;
    this.log = (this.o.logger ?? silentLogger).child({ component: 'tftp-server' });
    this.remap = compileRemap(this.o.remap);
    this.handler = this.o.handler;
    this.writeHandler = this.o.writeHandler;
    // Single-port mode demultiplexes on the listening socket, which stays in JavaScript: no pump.
    if (this.o.engine === 'native' && this.o.singlePort)
      throw new TftpConfigError(
        "engine 'native' needs per-transfer ports: it cannot be combined with singlePort",
      );
    this.pump = this.o.engine === 'js' || this.o.singlePort ? null : nativePump(this.o.pumpThreads);
    if (this.o.engine === 'native' && !this.pump)
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

  /** Start serving. With a pre-bound `socket` option, the socket is used as is. */
  async listen(opts: ListenOptions = {}): Promise<ServerAddress> {
    if (this.bound.length > 0) throw new TftpError('ALREADY_LISTENING', 'server is already listening');
    this.closing = false;
    if (this.o.socket) {
      const a = this.o.socket.address();
      this.attach({ socket: this.o.socket, localAddress: a.address, owned: false });
      return this.address();
    }
    const address = opts.address ?? '0.0.0.0';
    let port = opts.port ?? 69;
    const list = typeof address === 'string' ? [address] : [...address];
    const addrs = list.flatMap((a) => (a === '0.0.0.0' ? localIPv4Addresses() : [a]));
    try {
      for (const a of addrs) {
        const socket = udp4Socket();
        await bindSocket(socket, port, a);
        port = socket.address().port;
        this.attach({ socket, localAddress: a, owned: true });
      }
    } catch (e) {
      await this.closeListeners();
      throw new TftpError('LISTEN_FAILED', `cannot listen on ${address}:${port}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    this.log.info({ addresses: addrs, port, singlePort: this.o.singlePort }, 'TFTP server listening');
    return this.address();
  }

  /** The first listening address (`addresses()` lists all). */
  address(): ServerAddress {
    const l = this.bound[0];
    if (!l) throw new TftpError('NOT_LISTENING', 'server is not listening');
    const a = l.socket.address();
    return { address: a.address, port: a.port };
  }

  addresses(): ServerAddress[] {
    return this.bound.map((l) => {
      const a = l.socket.address();
      return { address: a.address, port: a.port };
    });
  }

  /** Stop accepting requests, let running transfers finish until the deadline, then abort the rest. */
  async close(opts: CloseOptions = {}): Promise<void> {
    const deadline = opts.deadlineMs ?? 5000;
    this.closing = true;
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline);
        this.drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.drained = undefined;
    }
    // Native transfers: the pump sends ERROR 0 itself and reports back (their sources stay open until then).
    const pumped = [...this.transfers.values()].filter((t) => !t.ended && t.pumpId !== undefined);
    if (pumped.length > 0) {
      await new Promise<void>((resolve) => {
        let left = pumped.length;
        const t0 = setTimeout(resolve, 2000);
        for (const t of pumped) {
          t.pumpDone = () => {
            if (--left === 0) {
              clearTimeout(t0);
              resolve();
            }
          };
          this.pump?.cancel(t.pumpId as number);
        }
      });
    }
    for (const t of [...this.transfers.values()]) {
      if (t.pumpId !== undefined) continue;
      if (!t.ended) {
        t.socket?.send(
          errorPacket(ErrorCode.NOT_DEFINED, 'Server shutting down'),
          t.remote.port,
          t.remote.address,
        );
        this._finish(t, 'failed', new TftpError('SHUTDOWN', 'server closed before the transfer finished'));
      }
      this.dispose(t);
    }
    await this.closeListeners();
    this.log.info('TFTP server closed');
  }

  private async closeListeners(): Promise<void> {
    const ls = this.bound;
    this.bound = [];
    await Promise.all(
      ls.map(
        (l) =>
          new Promise<void>((resolve) => {
            l.socket.removeAllListeners('message');
            try {
              l.socket.close(() => resolve());
            } catch {
              resolve();
            }
          }),
      ),
    );
  }

  private attach(l: Listener): void {
    l.socket.on('message', (msg, rinfo) => this.onListenerMessage(l, msg, rinfo));
    l.socket.on('error', (e) => this.log.warn({ err: e }, 'listening socket error'));
    this.bound.push(l);
  }

  private onListenerMessage(l: Listener, msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    const existing = this.transfers.get(key);
    const op = peekOpcode(msg);
    if (existing) {
      // Single-port mode: packets of a running transfer arrive here. A repeated request is a duplicate.
      if (existing.socket === l.socket) existing.onPacket(msg);
      return;
    }
    if (op !== Opcode.RRQ && op !== Opcode.WRQ) {
      // RFC 1350 §4: a packet for no known transfer gets ERROR 5 (never answer an ERROR with an ERROR).
      if (this.o.singlePort && (op === Opcode.ACK || op === Opcode.DATA) && msg.length >= 4)
        l.socket.send(errorPacket(ErrorCode.UNKNOWN_TID, 'Unknown transfer ID'), rinfo.port, rinfo.address);
      return;
    }
    if (this.closing) return;
    let req: RequestPacket;
    try {
      const p = decode(msg);
      req = p as RequestPacket;
    } catch (e) {
      // Malformed request: ERROR 4 (RFC 1350 §5 "Illegal TFTP operation").
      l.socket.send(
        errorPacket(ErrorCode.ILLEGAL_OPERATION, `Malformed request: ${(e as Error).message}`),
        rinfo.port,
        rinfo.address,
      );
      return;
    }
    const perClient = this.perClient.get(rinfo.address) ?? 0;
    if (this.active >= this.o.maxTransfers || perClient >= this.o.maxTransfersPerClient) {
      this.log.warn({ client: key, file: req.filename, active: this.active }, 'transfer limit reached');
      if (this.o.onLimit === 'error')
        l.socket.send(
          errorPacket(ErrorCode.NOT_DEFINED, 'Server busy, try again later'),
          rinfo.port,
          rinfo.address,
        );
      return;
    }
    const t = new Transfer(this, req, rinfo, l);
    this.transfers.set(key, t);
    this.perClient.set(rinfo.address, perClient + 1);
    this.active++;
    this.begin(t).catch((e) => this.reject(t, e));
  }

  private event(t: Transfer, error?: TftpError): TransferEvent {
    const s = t.stats();
    const ev: TransferEvent = {
      file: t.file,
      requestedFile: t.req.filename,
      direction: t.write ? 'write' : 'read',
      mode: t.req.mode === 'netascii' ? 'netascii' : 'octet',
      remoteAddress: t.remote.address,
      remotePort: t.remote.port,
      localAddress: t.listener.localAddress,
      options: t.options,
      bytes: s.bytes,
      blocks: s.blocks,
      retransmits: s.retransmits,
      durationMs: performance.now() - t.startedAt,
    };
    if (error) ev.error = error;
    if (t.sender?.finalAckMissing || t.pumpResult?.finalAckMissing) ev.finalAckMissing = true;
    return ev;
  }

  /** A request refused before any transfer started: ERROR to the client from the listening socket. */
  private reject(t: Transfer, e: unknown): void {
    if (t.ended) return;
    let err: TftpError;
    let code: number;
    let message: string;
    if (e instanceof TftpRequestError) {
      err = e;
      code = e.tftpCode;
      message = e.message;
    } else if (e instanceof TftpError) {
      err = e;
      code = ErrorCode.NOT_DEFINED;
      message = e.message;
    } else {
      err = new TftpError('HANDLER_ERROR', `handler failed: ${String((e as Error)?.message ?? e)}`, {
        cause: e,
      });
      code = ErrorCode.NOT_DEFINED;
      message = 'Internal server error';
      this.log.error({ err: e, file: t.file }, 'TFTP handler threw');
    }
    const sock = t.socket ?? t.listener.socket;
    sock.send(errorPacket(code, message), t.remote.port, t.remote.address);
    this._finish(t, 'failed', err);
  }

  private async begin(t: Transfer): Promise<void> {
    const { req, remote, listener } = t;
    if (req.mode !== 'octet' && req.mode !== 'netascii') {
      throw new TftpRequestError('BAD_MODE', ErrorCode.ILLEGAL_OPERATION, `Unsupported mode '${req.mode}'`);
    }
    const mode = req.mode;
    const write = t.write;
    const base = {
      requestedFile: req.filename,
      mode,
      options: req.options,
      remoteAddress: remote.address,
      remotePort: remote.port,
      localAddress: listener.localAddress,
    } as const;
    const mapped = this.remap(req.filename, { remoteAddress: remote.address, write });
    if (mapped.denied) throw accessDenied('Access violation');
    let file = mapped.file;
    if (this.o.rewrite) {
      const r = await this.o.rewrite(file, base);
      if (r === null) throw accessDenied('Access violation');
      file = r;
    }
    t.file = file;
    const ctx: RequestContext = { ...base, file };
    const tsizeReq = req.options.tsize;
    if (write && tsizeReq !== undefined && /^\d+$/.test(tsizeReq)) ctx.size = Number(tsizeReq);
    this.emit('request', this.event(t));
    if (t.ended) return;

    let neg: Negotiated;
    if (!write) {
      const r = await this.handler(ctx);
      if (r === null || r === undefined) throw notFound();
      let source = await toReadSource(r);
      if (t.ended) {
        await source.close();
        return;
      }
      if (mode === 'netascii') source = await netasciiSource(source, this.o.netasciiMaxBytes);
      t.source = source;
      neg = negotiateServer(req.options, {
        write: false,
        octet: mode === 'octet',
        size: source.size,
        limits: { blksizeMax: this.o.blksizeMax, windowsizeMax: this.o.windowsizeMax },
      });
    } else {
      if (!this.writeHandler) throw accessDenied('Writes are disabled');
      neg = negotiateServer(req.options, {
        write: true,
        octet: mode === 'octet',
        size: undefined,
        limits: { blksizeMax: this.o.blksizeMax, windowsizeMax: this.o.windowsizeMax },
      });
      const w = await this.writeHandler(ctx);
      t.writable = w;
      if (t.ended) {
        w.destroy();
        return;
      }
    }
    t.options = neg.oack;
    const pumpSize = write ? undefined : this.pumpSize(t, t.source as ReadSource, neg);
    if (pumpSize !== undefined) {
      this.startPumped(t, neg, pumpSize);
      return;
    }
    await this.openTransport(t);
    if (t.ended) return;
    const hasOack = Object.keys(neg.oack).length > 0;
    // RFC 2347 §2: OACK only if an option was accepted; otherwise DATA 1 (RRQ) / ACK 0 (WRQ).
    const oack = hasOack ? encode({ op: Opcode.OACK, options: neg.oack }) : undefined;
    const timeoutMs = neg.timeoutMs ?? this.o.timeoutMs;
    const rollover = this.rolloverFor(neg);
    const io = {
      send: t.send,
      finish: () => this._finish(t, 'complete'),
      fail: (err: TftpError, pkt?: { code: number; message: string }) => {
        if (pkt) t.socket?.send(errorPacket(pkt.code, pkt.message), t.remote.port, t.remote.address);
        this._finish(t, 'failed', err);
      },
    };
    if (!write) {
      const sender = new Sender({
        source: t.source as ReadSource,
        blksize: neg.blksize,
        windowsize: neg.windowsize,
        timeoutMs,
        retries: this.o.retries,
        rollover,
        ...(oack ? { initial: oack } : {}),
        io,
      });
      t.sender = sender;
      this.emit('start', this.event(t));
      sender.start();
    } else {
      const w = t.writable as Writable;
      const decoder = mode === 'netascii' ? new NetasciiDecoder() : undefined;
      let receiver: Receiver | undefined;
      const sink: Sink = {
        write: (data) => (decoder ? w.write(decoder.write(data)) : w.write(data)),
        end: () =>
          new Promise<void>((resolve, reject) => {
            w.once('error', reject);
            if (decoder) w.write(decoder.end());
            w.end(() => resolve());
          }),
      };
      w.on('drain', () => receiver?.resume());
      w.on('error', (e) => {
        if (t.ended) return;
        t.socket?.send(errorPacket(ErrorCode.DISK_FULL, 'Write error'), t.remote.port, t.remote.address);
        this._finish(
          t,
          'failed',
          new TftpError('SINK_ERROR', `write handler stream failed: ${e.message}`, { cause: e }),
        );
      });
      receiver = new Receiver({
        blksize: neg.blksize,
        windowsize: neg.windowsize,
        timeoutMs,
        retries: this.o.retries,
        initial: oack ?? encode({ op: Opcode.ACK, block: 0 }),
        sink,
        io,
        ...(neg.rollover !== undefined ? { rollover: neg.rollover } : {}),
      });
      t.receiver = receiver;
      this.emit('start', this.event(t));
      receiver.start();
    }
  }

  /** The block-number policy of a transfer: the client's `rollover` option (tftp-hpa) wins over the server's. */
  private rolloverFor(neg: Negotiated): RolloverPolicy {
    return neg.rollover === undefined ? this.o.rollover : neg.rollover === 0 ? 'wrap0' : 'wrap1';
  }

  /**
   * The size to hand the native pump when it can move this read transfer (a file or buffer of known size, its
   * own port, IPv4), else undefined.
   */
  private pumpSize(t: Transfer, src: ReadSource, neg: Negotiated): number | undefined {
    if (!this.pump) return undefined;
    // The pump speaks IPv4 only (a caller's pre-bound udp6 socket stays on sender.ts).
    if (!isIPv4(t.remote.address) || !isIPv4(t.listener.localAddress)) return undefined;
    const size = src.buffer ? src.buffer.length : src.size;
    if (size === undefined || (src.buffer === undefined && src.fd === undefined)) return undefined;
    // Refusing large files is the TypeScript sender's job (it answers with a clear ERROR).
    if (this.rolloverFor(neg) === 'refuse' && Math.floor(size / neg.blksize) + 1 > 0xffff) return undefined;
    return size;
  }

  private startPumped(t: Transfer, neg: Negotiated, size: number): void {
    const pump = this.pump as NativePump;
    const src = t.source as ReadSource;
    const hasOack = Object.keys(neg.oack).length > 0;
    const range = this.o.portRange;
    const rollTo = this.rolloverFor(neg) === 'wrap1' ? 1 : 0;
    let started: { id: number; port: number };
    try {
      started = pump.start(
        {
          localAddress: t.listener.localAddress,
          portLow: range ? range[0] : 0,
          portHigh: range ? range[1] : 0,
          portCursor: this.portCursor,
          address: t.remote.address,
          port: t.remote.port,
          ...(src.buffer ? { buffer: src.buffer } : { fd: src.fd as number }),
          size,
          blksize: neg.blksize,
          windowsize: neg.windowsize,
          timeoutMs: neg.timeoutMs ?? this.o.timeoutMs,
          retries: this.o.retries,
          rollTo,
          ...(hasOack ? { initial: encode({ op: Opcode.OACK, options: neg.oack }) } : {}),
        },
        (r) => this.pumpFinished(t, r),
      );
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const msg = (e as Error).message;
      throw code === 'NO_PORT'
        ? new TftpError('NO_PORT', range ? `no free port in range ${range[0]}-${range[1]}` : msg)
        : new TftpError('BIND_FAILED', msg);
    }
    t.pumpId = started.id;
    if (range) this.portCursor = (started.port - range[0] + 1) % (range[1] - range[0] + 1);
    this.emit('start', this.event(t));
  }

  private pumpFinished(t: Transfer, r: PumpResult): void {
    t.pumpResult = r;
    if (r.status === 'complete') this._finish(t, 'complete');
    else if (r.status === 'aborted')
      this._finish(t, 'aborted', new TftpRemoteError(r.errorCode, r.message, t.file));
    else if (r.status === 'cancelled')
      this._finish(t, 'failed', new TftpError('SHUTDOWN', 'server closed before the transfer finished'));
    else if (r.kind === 'TIMEOUT') this._finish(t, 'failed', new TftpTimeoutError(r.message));
    else this._finish(t, 'failed', new TftpError(r.kind || 'PUMP_ERROR', r.message));
    t.pumpId = undefined;
    t.pumpDone?.();
  }

  private async openTransport(t: Transfer): Promise<void> {
    if (this.o.singlePort) {
      t.socket = t.listener.socket;
      return;
    }
    const socket = udp4Socket();
    socket.on('error', (e) => this.log.debug({ err: e, client: t.key }, 'transfer socket error'));
    const local = t.listener.localAddress;
    const range = this.o.portRange;
    if (!range) await bindSocket(socket, 0, local);
    else {
      const [lo, hi] = range;
      const n = hi - lo + 1;
      let bound = false;
      for (let i = 0; i < n && !bound; i++) {
        const port = lo + ((this.portCursor + i) % n);
        try {
          await bindSocket(socket, port, local);
          this.portCursor = (port - lo + 1) % n;
          bound = true;
        } catch {
          /* in use: try the next port */
        }
      }
      if (!bound) {
        socket.close();
        throw new TftpError('NO_PORT', `no free port in range ${lo}-${hi}`);
      }
    }
    t.socket = socket;
    t.ownSocket = true;
    socket.on('message', (msg, rinfo) => {
      if (rinfo.port === t.remote.port && rinfo.address === t.remote.address) t.onPacket(msg);
      // RFC 1350 §4: a packet from another TID gets ERROR 5 and does not disturb the transfer.
      else if (peekOpcode(msg) !== Opcode.ERROR)
        socket.send(errorPacket(ErrorCode.UNKNOWN_TID, 'Unknown transfer ID'), rinfo.port, rinfo.address);
    });
    if (t.ended) this.dispose(t);
  }

  /** @internal End a transfer once: stop its machine, emit its event, release its slot. */
  _finish(t: Transfer, outcome: Outcome, error?: TftpError): void {
    if (t.ended) return;
    t.ended = true;
    t.sender?.stop();
    if (outcome !== 'complete') t.receiver?.stop();
    this.active--;
    const n = (this.perClient.get(t.remote.address) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(t.remote.address);
    else this.perClient.set(t.remote.address, n);
    const ev = this.event(t, error);
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
    // Dally after a completed write (RFC 1350 §6) so a lost final ACK can be repeated.
    if (outcome === 'complete' && t.write) {
      setTimeout(() => this.dispose(t), Math.min(1000, this.o.timeoutMs)).unref();
    } else this.dispose(t);
    if (outcome !== 'complete' && t.writable && !t.writable.writableFinished) t.writable.destroy();
    this.emit(outcome, ev);
    if (this.active === 0) this.drained?.();
  }

  private dispose(t: Transfer): void {
    if (this.transfers.get(t.key) === t) this.transfers.delete(t.key);
    t.receiver?.stop();
    const src = t.source;
    t.source = undefined;
    if (src) Promise.resolve(src.close()).catch(() => {});
    if (t.ownSocket && t.socket) {
      const s = t.socket;
      t.ownSocket = false;
      s.removeAllListeners('message');
      // Close after a just-sent ERROR left (dgram sends after a tick).
      setImmediate(() => {
        try {
          s.close();
        } catch {
          /* already closed */
        }
      });
    }
  }
}

/** Create a server; call `listen()` to start it. */
export function createServer(options: ServerOptions): TftpServer {
  return new TftpServer(options);
}

function bindSocket(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function localIPv4Addresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !out.includes(a.address)) out.push(a.address);
  }
  return out.length > 0 ? out : ['0.0.0.0'];
}

/** netascii is converted in memory (RFC 1350: sizes differ from the file, so tsize is not offered). */
async function netasciiSource(src: ReadSource, max: number): Promise<ReadSource> {
  const parts: Buffer[] = [];
  let pos = 0;
  const buf = Buffer.allocUnsafe(64 * 1024);
  try {
    for (let i = 0; i < 1_000_000; i++) {
      const n = await src.read(buf, 0, buf.length, pos);
      if (n <= 0) break;
      parts.push(Buffer.from(buf.subarray(0, n)));
      pos += n;
      if (pos > max)
        throw new TftpRequestError('TOO_LARGE', ErrorCode.NOT_DEFINED, 'File too large for netascii mode');
    }
  } finally {
    await src.close();
  }
  const converted = toNetascii(Buffer.concat(parts));
  const b = bufferSource(converted);
  return { ...b, size: undefined };
}
