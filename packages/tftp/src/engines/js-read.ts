/** The TypeScript read engine: sender.ts's machine on a transport channel (RRQ). */
import { ErrorCode } from '../errors.js';
import type { RolloverPolicy } from '../negotiation.js';
import { type ReadBudget, Sender } from '../sender.js';
import type { ReadSource } from '../source.js';
import {
  dispatchClientPacket,
  type EngineHooks,
  type EngineStats,
  shutdownError,
  type TransferEngine,
  unreachableError,
} from '../transfer.js';
import type { Channel } from '../transport.js';

export interface JsReadParams {
  channel: Channel;
  hooks: EngineHooks;
  source: ReadSource;
  file: string;
  remote: { address: string; port: number };
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  retries: number;
  rollover: RolloverPolicy;
  firstReplyTimeoutMs: number;
  budget: ReadBudget;
  /** OACK to send first; omitted => DATA 1. */
  oack?: Buffer | undefined;
}

export class JsReadEngine implements TransferEngine {
  private readonly sender: Sender;
  private disposed = false;

  constructor(private readonly params: JsReadParams) {
    const { channel, hooks } = params;
    this.sender = new Sender({
      source: params.source,
      blksize: params.blksize,
      windowsize: params.windowsize,
      timeoutMs: params.timeoutMs,
      retries: params.retries,
      rollover: params.rollover,
      firstReplyTimeoutMs: params.firstReplyTimeoutMs,
      budget: params.budget,
      ...(params.oack ? { initial: params.oack } : {}),
      io: {
        send: channel.send,
        sendData: channel.sendData,
        finish: () => hooks.end('complete'),
        fail: (err, packet) => {
          if (packet) channel.sendError(packet.code, packet.message);
          hooks.end('failed', err);
        },
      },
    });
    channel.onPacket = (msg) =>
      dispatchClientPacket(msg, { ack: (block) => this.sender.onAck(block) }, channel, hooks, params.file);
    channel.onUnreachable = () => hooks.end('failed', unreachableError(params.remote));
  }

  start(): void {
    this.sender.start();
  }

  stats(): EngineStats {
    const { bytes, blocks, retransmits, finalAckMissing } = this.sender;
    return { bytes, blocks, retransmits, finalAckMissing };
  }

  async cancel(): Promise<void> {
    this.params.channel.sendError(ErrorCode.NOT_DEFINED, 'Server shutting down');
    this.params.hooks.end('failed', shutdownError());
  }

  dispose(): void {
    this.sender.stop();
    if (this.disposed) return;
    this.disposed = true;
    this.params.channel.close();
    this.params.hooks.closed();
    Promise.resolve(this.params.source.close()).catch(() => {});
  }
}
