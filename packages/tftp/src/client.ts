/**
 * The TFTP client: `get` (stream), `fetchFile` (buffer), `probeSize` (firmware-style tsize probe) and `put`.
 * A request with no blksize/windowsize/tsize/timeout/extraOptions is a plain RFC 1350 request with no options.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import type { Logger } from '@bramble/logger';
import { z } from 'zod';
import {
  ErrorCode,
  TftpAbortError,
  TftpConfigError,
  TftpError,
  TftpRemoteError,
  TftpTimeoutError,
} from './errors.js';
import { acceptOack, type Negotiated } from './negotiation.js';
import { fromNetascii, NetasciiDecoder, toNetascii } from './netascii.js';
import { decode, encode, errorPacket, Opcode, peekOpcode } from './packet.js';
import { Receiver, type Sink } from './receiver.js';
import { type MachineIo, Sender } from './sender.js';
import { bufferSource, type ReadSource, streamSource } from './source.js';
import type { TransferStats } from './types.js';
import { udp4Socket } from './udp.js';

export const ClientOptionsSchema = z
  .object({
    /** Server port (default 69). */
    port: z.number().int().min(1).max(65535).default(69),
    /** RFC 2348 blksize to request; omitted => not requested (512). */
    blksize: z.number().int().min(8).max(65464).optional(),
    /** RFC 7440 windowsize to request; omitted => not requested (lock-step). */
    windowsize: z.number().int().min(1).max(65535).optional(),
    /** RFC 2349 tsize: send tsize=0 on RRQ, the real size on WRQ. */
    tsize: z.boolean().optional(),
    /** RFC 2349 timeout option in seconds; also the client's retransmit timeout. */
    timeout: z.number().int().min(1).max(255).optional(),
    /** Retransmissions before giving up (default 5). */
    retries: z.number().int().min(0).max(100).default(5),
    localAddress: z.string().optional(),
    signal: z.instanceof(AbortSignal).optional(),
    /** Options sent verbatim after the standard ones (exact firmware emulation). */
    extraOptions: z.record(z.string(), z.string()).optional(),
    /** Transfer mode (default octet). */
    mode: z.enum(['octet', 'netascii']).default('octet'),
    /** Retransmit timeout in ms when `timeout` is not given (default 1000); sub-second values suit tests. */
    retransmitMs: z.number().int().min(1).max(255_000).optional(),
    logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null).optional(),
  })
  .strict();
export type ClientOptions = z.input<typeof ClientOptionsSchema>;
type Resolved = z.output<typeof ClientOptionsSchema>;

function parseOptions(opts: ClientOptions | undefined): Resolved {
  const r = ClientOptionsSchema.safeParse(opts ?? {});
  if (!r.success) throw new TftpConfigError(`invalid TFTP client options: ${r.error.message}`);
  return r.data;
}

/** RFC 2347 §2: accept the server's OACK, or answer ERROR 8 (a client that rejects the OACK) and fail. */
function takeOack(x: Exchange, requested: Record<string, string>, msg: Buffer): Negotiated | undefined {
  try {
    const p = decode(msg);
    if (p.op !== Opcode.OACK) throw new TftpError('PROTOCOL', 'bad OACK');
    return acceptOack(requested, p.options);
  } catch (e) {
    x.sendError(ErrorCode.OPTION_NEGOTIATION, 'Option negotiation failed');
    x.fail(e instanceof TftpError ? e : new TftpError('PROTOCOL', String(e)));
    return undefined;
  }
}

function requestedOptions(options: Resolved, writeSize: number | undefined): Record<string, string> {
  const req: Record<string, string> = {};
  // Same order as Pi firmware ("tsize 0 blksize 1024").
  if (options.tsize) req.tsize = String(writeSize ?? 0);
  if (options.blksize !== undefined) req.blksize = String(options.blksize);
  if (options.windowsize !== undefined) req.windowsize = String(options.windowsize);
  if (options.timeout !== undefined) req.timeout = String(options.timeout);
  for (const [k, v] of Object.entries(options.extraOptions ?? {})) req[k.toLowerCase()] = v;
  return req;
}

type FirstHandler = (op: number, msg: Buffer) => void;

/** One client exchange: socket, request retransmission, server TID locking (RFC 1350 §4). */
class Exchange {
  readonly socket: Socket;
  readonly started = performance.now();
  hostIp = '';
  tid: number | undefined;
  requestRetransmits = 0;
  private timer: NodeJS.Timeout | undefined;
  private tries = 0;
  private ended = false;
  private settle!: { resolve: (v: unknown) => void; reject: (e: unknown) => void };
  readonly promise: Promise<unknown>;
  onFirst: FirstHandler = () => {};
  onPacket: (op: number, msg: Buffer) => void = () => {};
  onEnd: () => void = () => {};
  private abortListener: (() => void) | undefined;

  constructor(
    readonly options: Resolved,
    readonly file: string,
  ) {
    this.socket = udp4Socket();
    this.socket.on('error', () => {});
    this.promise = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.promise.catch(() => {});
  }

  get retransmitMs(): number {
    return this.options.timeout !== undefined
      ? this.options.timeout * 1000
      : (this.options.retransmitMs ?? 1000);
  }

  async start(host: string, request: Buffer): Promise<void> {
    try {
      this.hostIp = isIP(host) === 4 ? host : (await lookup(host, { family: 4 })).address;
      await new Promise<void>((resolve, reject) => {
        this.socket.once('error', reject);
        this.socket.bind(
          { port: 0, ...(this.options.localAddress ? { address: this.options.localAddress } : {}) },
          () => {
            this.socket.off('error', reject);
            resolve();
          },
        );
      });
    } catch (e) {
      this.fail(new TftpError('SOCKET', `cannot reach ${host}: ${(e as Error).message}`, { cause: e }));
      return;
    }
    if (this.ended) return;
    const sig = this.options.signal;
    if (sig) {
      if (sig.aborted) {
        this.fail(new TftpAbortError());
        return;
      }
      this.abortListener = () => {
        if (this.tid !== undefined) this.sendError(ErrorCode.NOT_DEFINED, 'Transfer aborted');
        this.fail(new TftpAbortError());
      };
      sig.addEventListener('abort', this.abortListener, { once: true });
    }
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    const sendRequest = () => {
      if (this.ended || this.tid !== undefined) return;
      this.socket.send(request, this.options.port, this.hostIp);
    };
    let ms = this.retransmitMs;
    const onTimeout = () => {
      if (this.ended || this.tid !== undefined) return;
      this.tries++;
      if (this.tries > this.options.retries) {
        this.fail(
          new TftpTimeoutError(`no answer from ${this.hostIp}:${this.options.port} for '${this.file}'`),
        );
        return;
      }
      this.requestRetransmits++;
      sendRequest();
      ms = Math.min(ms * 2, 16_000);
      this.timer = setTimeout(onTimeout, ms);
    };
    sendRequest();
    this.timer = setTimeout(onTimeout, ms);
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.ended || rinfo.address !== this.hostIp) return;
    const op = peekOpcode(msg);
    if (this.tid === undefined) {
      this.tid = rinfo.port;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.onFirst(op, msg);
      return;
    }
    if (rinfo.port !== this.tid) {
      // RFC 1350 §4: another source port is not our transfer: ERROR 5 to it, transfer undisturbed.
      if (op !== Opcode.ERROR)
        this.socket.send(
          errorPacket(ErrorCode.UNKNOWN_TID, 'Unknown transfer ID'),
          rinfo.port,
          rinfo.address,
        );
      return;
    }
    this.onPacket(op, msg);
  }

  send = (buf: Buffer, len: number): void => {
    if (this.tid === undefined) return;
    this.socket.send(buf, 0, len, this.tid, this.hostIp);
  };

  sendData = (header: Buffer, payload: Buffer, sent?: () => void): void => {
    if (this.tid === undefined) return;
    this.socket.send([header, payload], this.tid, this.hostIp, sent);
  };

  sendError(code: number, message: string): void {
    if (this.tid === undefined) return;
    this.socket.send(errorPacket(code, message), this.tid, this.hostIp);
  }

  remoteError(msg: Buffer): TftpRemoteError {
    try {
      const p = decode(msg);
      if (p.op === Opcode.ERROR) return new TftpRemoteError(p.code, p.message, this.file);
    } catch {
      /* fall through */
    }
    return new TftpRemoteError(0, '', this.file);
  }

  succeed(v: unknown, dallyMs = 0): void {
    if (this.ended) return;
    this.ended = true;
    this.cleanup(dallyMs);
    this.settle.resolve(v);
    this.onEnd();
  }

  fail(e: TftpError): void {
    if (this.ended) return;
    this.ended = true;
    this.cleanup(0);
    this.settle.reject(e);
    this.onEnd();
  }

  private cleanup(dallyMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.abortListener) this.options.signal?.removeEventListener('abort', this.abortListener);
    const close = () => {
      try {
        this.socket.close();
      } catch {
        /* already closed */
      }
    };
    // Close after pending sends went out (dgram resolves the address on the next tick).
    if (dallyMs > 0) setTimeout(close, dallyMs).unref();
    else setImmediate(close);
  }
}

function io(x: Exchange, onFinish: () => void): MachineIo {
  return {
    send: x.send,
    sendData: x.sendData,
    finish: onFinish,
    fail: (err, pkt) => {
      if (pkt) x.sendError(pkt.code, pkt.message);
      x.fail(err);
    },
  };
}

interface ReadRun {
  x: Exchange;
  receiver: () => Receiver | undefined;
}

/** Shared RRQ machinery: negotiates, then feeds DATA into `sink`. */
function runRead(
  host: string,
  file: string,
  options: Resolved,
  sink: Sink,
  onStats: (s: TransferStats) => void,
): ReadRun {
  const requested = requestedOptions(options, undefined);
  const request = encode({ op: Opcode.RRQ, filename: file, mode: options.mode, options: requested });
  const x = new Exchange(options, file);
  let receiver: Receiver | undefined;
  let neg: Negotiated | undefined;
  const finish = () => {
    const r = receiver as Receiver;
    const stats: TransferStats = {
      file,
      bytes: r.bytes,
      blocks: r.blocks,
      retransmits: r.retransmits + x.requestRetransmits,
      durationMs: performance.now() - x.started,
      options: neg?.oack ?? {},
    };
    onStats(stats);
    // Dally (RFC 1350 §6): keep the socket a moment so a repeated last DATA is ACKed again.
    x.succeed(stats, Math.max(2 * x.retransmitMs, 1000));
  };
  const makeReceiver = (n: Negotiated, initial: Buffer | undefined) => {
    receiver = new Receiver({
      blksize: n.blksize,
      windowsize: n.windowsize,
      timeoutMs: x.retransmitMs,
      retries: options.retries,
      ...(n.rollover !== undefined ? { rollover: n.rollover } : {}),
      ...(initial ? { initial } : {}),
      sink,
      io: io(x, finish),
    });
    receiver.start();
  };
  x.onFirst = (op, msg) => {
    if (op === Opcode.OACK) {
      const accepted = takeOack(x, requested, msg);
      if (!accepted) return;
      neg = accepted;
      makeReceiver(neg, encode({ op: Opcode.ACK, block: 0 }));
    } else if (op === Opcode.DATA && msg.length >= 4) {
      // The server ignored every option (RFC 2347 §2): RFC 1350 defaults.
      neg = { blksize: 512, windowsize: 1, oack: {} };
      makeReceiver(neg, undefined);
      receiver?.onData(msg.readUInt16BE(2), msg.subarray(4));
    } else if (op === Opcode.ERROR) {
      x.fail(x.remoteError(msg));
    } else {
      x.sendError(ErrorCode.ILLEGAL_OPERATION, 'Illegal TFTP operation');
      x.fail(new TftpError('PROTOCOL', `unexpected opcode ${op} in answer to RRQ`));
    }
  };
  x.onPacket = (op, msg) => {
    if (op === Opcode.DATA && msg.length >= 4) receiver?.onData(msg.readUInt16BE(2), msg.subarray(4));
    else if (op === Opcode.ERROR) {
      receiver?.stop();
      x.fail(x.remoteError(msg));
    }
  };
  x.onEnd = () => receiver?.stop();
  x.start(host, request);
  return { x, receiver: () => receiver };
}

/**
 * Download `file` as a stream. `done` resolves with the transfer statistics when the last block arrived
 * (and rejects with a `TftpError`; the stream then errors too if it has an 'error' listener).
 */
export function get(
  host: string,
  file: string,
  opts?: ClientOptions,
): Readable & { done: Promise<TransferStats> } {
  const options = parseOptions(opts);
  let run: ReadRun | undefined;
  const decoder = options.mode === 'netascii' ? { parts: [] as Buffer[] } : undefined;
  const stream = new Readable({
    read() {
      run?.receiver()?.resume();
    },
  });
  const sink: Sink = {
    write: (data) => {
      if (decoder) {
        decoder.parts.push(Buffer.from(data));
        return true;
      }
      return stream.push(data);
    },
    end: () => {
      if (decoder) stream.push(fromNetascii(Buffer.concat(decoder.parts)));
      stream.push(null);
    },
  };
  run = runRead(host, file, options, sink, () => {});
  const done = run.x.promise as Promise<TransferStats>;
  done.catch((e) => {
    if (stream.listenerCount('error') > 0) stream.destroy(e);
    else stream.push(null);
  });
  return Object.assign(stream, { done });
}

/** Download `file` into a Buffer. */
export async function fetchFile(
  host: string,
  file: string,
  opts?: ClientOptions,
): Promise<{ data: Buffer; stats: TransferStats }> {
  const options = parseOptions(opts);
  const parts: Buffer[] = [];
  const sink: Sink = {
    write: (d) => {
      parts.push(d);
      return true;
    },
    end: () => {},
  };
  const run = runRead(host, file, options, sink, () => {});
  const stats = (await run.x.promise) as TransferStats;
  const data = Buffer.concat(parts);
  return { data: options.mode === 'netascii' ? fromNetascii(data) : data, stats };
}

/**
 * Download `file`, handing each DATA payload to `onData` as it arrives (no stream, no buffering): the cheapest
 * way to hash or count a file. Resolves with the transfer statistics.
 */
export async function download(
  host: string,
  file: string,
  onData: (chunk: Buffer) => void,
  opts?: ClientOptions,
): Promise<TransferStats> {
  const options = parseOptions(opts);
  const decoder = options.mode === 'netascii' ? new NetasciiDecoder() : undefined;
  const sink: Sink = {
    write: (d) => {
      onData(decoder ? decoder.write(d) : d);
      return true;
    },
    end: () => {
      if (decoder) onData(decoder.end());
    },
  };
  const run = runRead(host, file, options, sink, () => {});
  return (await run.x.promise) as TransferStats;
}

/** How `probeSize` ends the transfer once it knows the size. */
export interface ProbeAbort {
  /**
   * TFTP error code of the abort (RFC 1350 §5). Default 8 (RFC 2347 §5: the client refuses the OACK);
   * Raspberry Pi firmware sends 0 "Early terminate".
   */
  code?: number;
  message?: string;
}

/**
 * RRQ with tsize=0 (plus blksize etc. if given); on the OACK answer an ERROR ("Early terminate"), as Pi and
 * UEFI firmware do, and return the announced size (undefined if the server sent no tsize / no OACK).
 */
export async function probeSize(
  host: string,
  file: string,
  opts?: ClientOptions,
  abort: ProbeAbort = {},
): Promise<{ size: number | undefined; options: Record<string, string> }> {
  const abortCode = abort.code ?? ErrorCode.OPTION_NEGOTIATION;
  const abortMessage = abort.message ?? 'Early terminate';
  const options = parseOptions({ ...opts, tsize: true });
  const requested = requestedOptions(options, undefined);
  const request = encode({ op: Opcode.RRQ, filename: file, mode: options.mode, options: requested });
  const x = new Exchange(options, file);
  x.onFirst = (op, msg) => {
    if (op === Opcode.OACK) {
      let offered: Record<string, string> = {};
      try {
        const p = decode(msg);
        if (p.op === Opcode.OACK) offered = { ...p.options };
      } catch {
        /* malformed OACK: size unknown */
      }
      x.sendError(abortCode, abortMessage);
      const t = offered.tsize;
      x.succeed({ size: t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined, options: offered });
    } else if (op === Opcode.DATA) {
      x.sendError(abortCode, abortMessage);
      x.succeed({ size: undefined, options: {} });
    } else if (op === Opcode.ERROR) x.fail(x.remoteError(msg));
    else x.fail(new TftpError('PROTOCOL', `unexpected opcode ${op} in answer to RRQ`));
  };
  x.start(host, request);
  return (await x.promise) as { size: number | undefined; options: Record<string, string> };
}

/** Upload `data` as `file` (WRQ). */
export async function put(
  host: string,
  file: string,
  data: Buffer | Readable,
  opts?: ClientOptions,
): Promise<TransferStats> {
  const options = parseOptions(opts);
  let source: ReadSource;
  if (Buffer.isBuffer(data)) source = bufferSource(options.mode === 'netascii' ? toNetascii(data) : data);
  else {
    if (options.mode === 'netascii') {
      const chunks: Buffer[] = [];
      for await (const c of data) chunks.push(Buffer.from(c as Buffer));
      source = bufferSource(toNetascii(Buffer.concat(chunks)));
    } else source = streamSource(data);
  }
  const size = options.mode === 'octet' ? source.size : undefined;
  const requested = requestedOptions(options, size);
  if (options.tsize && size === undefined) delete requested.tsize;
  const request = encode({ op: Opcode.WRQ, filename: file, mode: options.mode, options: requested });
  const x = new Exchange(options, file);
  let sender: Sender | undefined;
  let neg: Negotiated | undefined;
  const finish = () => {
    const s = sender as Sender;
    x.succeed({
      file,
      bytes: s.bytes,
      blocks: s.blocks,
      retransmits: s.retransmits + x.requestRetransmits,
      durationMs: performance.now() - x.started,
      options: neg?.oack ?? {},
    } satisfies TransferStats);
  };
  const startSending = (n: Negotiated) => {
    sender = new Sender({
      source,
      blksize: n.blksize,
      windowsize: n.windowsize,
      timeoutMs: x.retransmitMs,
      retries: options.retries,
      rollover: n.rollover === 1 ? 'wrap1' : 'wrap0',
      io: io(x, finish),
    });
    sender.start();
  };
  x.onFirst = (op, msg) => {
    if (op === Opcode.OACK) {
      const accepted = takeOack(x, requested, msg);
      if (!accepted) return;
      neg = accepted;
      startSending(neg);
    } else if (op === Opcode.ACK && msg.length >= 4 && msg.readUInt16BE(2) === 0) {
      neg = { blksize: 512, windowsize: 1, oack: {} };
      startSending(neg);
    } else if (op === Opcode.ERROR) x.fail(x.remoteError(msg));
    else {
      x.sendError(ErrorCode.ILLEGAL_OPERATION, 'Illegal TFTP operation');
      x.fail(new TftpError('PROTOCOL', `unexpected opcode ${op} in answer to WRQ`));
    }
  };
  x.onPacket = (op, msg) => {
    if (op === Opcode.ACK && msg.length >= 4) sender?.onAck(msg.readUInt16BE(2));
    else if (op === Opcode.ERROR) {
      sender?.stop();
      x.fail(x.remoteError(msg));
    }
  };
  x.onEnd = () => {
    sender?.stop();
    Promise.resolve(source.close()).catch(() => {});
  };
  x.start(host, request);
  return (await x.promise) as TransferStats;
}
