/** The TypeScript write engine: receiver.ts's machine on a transport channel, into the write handler's stream (WRQ). */
import type { Writable } from 'node:stream';
import { ErrorCode, TftpError } from '../errors.js';
import { NetasciiDecoder } from '../netascii.js';
import { Receiver, type Sink } from '../receiver.js';
import {
  dispatchClientPacket,
  type EngineHooks,
  type EngineStats,
  type Outcome,
  shutdownError,
  type TransferEngine,
  unreachableError,
} from '../transfer.js';
import type { Channel } from '../transport.js';

export interface JsWriteParams {
  channel: Channel;
  hooks: EngineHooks;
  writable: Writable;
  netascii: boolean;
  file: string;
  remote: { address: string; port: number };
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  retries: number;
  firstReplyTimeoutMs: number;
  /** The client's `rollover` option, if it sent one. */
  rollover?: 0 | 1 | undefined;
  /** OACK or ACK 0: (re)sent until DATA 1 arrives. */
  initial: Buffer;
  /** After a completed write, keep the channel open this long for a repeated last DATA (RFC 1350 §6). */
  dallyMs: number;
}

export class JsWriteEngine implements TransferEngine {
  private readonly receiver: Receiver;
  private disposed = false;
  private dally: NodeJS.Timeout | undefined;

  constructor(private readonly params: JsWriteParams) {
    const { channel, hooks, writable } = params;
    const decoder = params.netascii ? new NetasciiDecoder() : undefined;
    const sink: Sink = {
      write: (data) => writable.write(decoder ? decoder.write(data) : data),
      end: () =>
        new Promise<void>((resolve, reject) => {
          writable.once('error', reject);
          if (decoder) writable.write(decoder.end());
          writable.end(() => resolve());
        }),
    };
    writable.on('drain', () => this.receiver.resume());
    writable.on('error', (e) => {
      channel.sendError(ErrorCode.DISK_FULL, 'Write error');
      hooks.end(
        'failed',
        new TftpError('SINK_ERROR', `write handler stream failed: ${e.message}`, { cause: e }),
      );
    });
    this.receiver = new Receiver({
      blksize: params.blksize,
      windowsize: params.windowsize,
      timeoutMs: params.timeoutMs,
      retries: params.retries,
      firstReplyTimeoutMs: params.firstReplyTimeoutMs,
      initial: params.initial,
      sink,
      io: {
        send: channel.send,
        sendData: channel.sendData,
        finish: () => hooks.end('complete'),
        fail: (err, packet) => {
          if (packet) channel.sendError(packet.code, packet.message);
          hooks.end('failed', err);
        },
      },
      ...(params.rollover !== undefined ? { rollover: params.rollover } : {}),
    });
    channel.onPacket = (msg) =>
      dispatchClientPacket(
        msg,
        { data: (block, payload) => this.receiver.onData(block, payload) },
        channel,
        hooks,
        params.file,
      );
    channel.onUnreachable = () => hooks.end('failed', unreachableError(params.remote));
  }

  start(): void {
    this.receiver.start();
  }

  stats(): EngineStats {
    const { bytes, blocks, retransmits } = this.receiver;
    return { bytes, blocks, retransmits, finalAckMissing: false };
  }

  async cancel(): Promise<void> {
    this.params.channel.sendError(ErrorCode.NOT_DEFINED, 'Server shutting down');
    this.params.hooks.end('failed', shutdownError());
  }

  /** A completed write dallies before closing (a lost final ACK is repeated); a second call closes at once. */
  dispose(outcome: Outcome): void {
    if (this.disposed) return;
    const { writable } = this.params;
    if (outcome !== 'complete') {
      this.receiver.stop();
      if (!writable.writableFinished) writable.destroy();
    }
    if (outcome === 'complete' && this.dally === undefined) {
      this.dally = setTimeout(() => this.close(), this.params.dallyMs);
      this.dally.unref();
      return;
    }
    this.close();
  }

  private close(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.dally) clearTimeout(this.dally);
    this.receiver.stop();
    this.params.channel.close();
    this.params.hooks.closed();
  }
}
