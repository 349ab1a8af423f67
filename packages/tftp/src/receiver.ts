/**
 * The receiving side of a transfer (client RRQ, server WRQ): RFC 1350 §2 lock-step generalised to an
 * RFC 7440 window. ACKs every `windowsize` blocks and at the final (short) block; on an out-of-order
 * block it ACKs the last in-order block once (RFC 7440 §4); on timeout it re-sends its last ACK.
 */
import { wireBlock } from './block.js';
import { ErrorCode, TftpError, TftpTimeoutError } from './errors.js';
import { writeAck } from './packet.js';
import type { MachineIo } from './sender.js';

export interface Sink {
  /** Take one payload. Return false to hold the next ACK until `Receiver.resume()` (back-pressure). */
  write(data: Buffer): boolean;
  /** All data received; resolve when it is stored. The final ACK is sent after this. */
  end(): void | Promise<void>;
}

export interface ReceiverOptions {
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  retries: number;
  /** Rollover the peer uses after block 65535; undefined => detect (accept 0 or 1). */
  rollover?: 0 | 1;
  /** Packet to re-send until the first DATA arrives (server: OACK or ACK 0; client after OACK: ACK 0). */
  initial?: Buffer;
  sink: Sink;
  /** Give up this long after `start()` when no DATA ever arrived, whatever timeout was negotiated. */
  firstReplyTimeoutMs?: number;
  io: MachineIo;
}

export class Receiver {
  bytes = 0;
  blocks = 0;
  retransmits = 0;
  private readonly options: ReceiverOptions;
  private rollTo: 0 | 1 | undefined;
  private readonly ack = Buffer.alloc(4);
  private sinceAck = 0;
  private oooAcked = false;
  private holding = false;
  private ending = false;
  private complete = false;
  private done = false;
  private tries = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerMs: number;
  private heard = false;
  private firstReplyDeadline = Number.POSITIVE_INFINITY;

  constructor(options: ReceiverOptions) {
    this.options = options;
    this.rollTo = options.rollover;
    this.timerMs = options.timeoutMs;
  }

  get finished(): boolean {
    return this.complete;
  }

  /** Send the initial packet (if any) and start the timeout. */
  start(): void {
    if (this.options.firstReplyTimeoutMs !== undefined)
      this.firstReplyDeadline = performance.now() + this.options.firstReplyTimeoutMs;
    if (this.options.initial) this.options.io.send(this.options.initial, this.options.initial.length);
    this.arm();
  }

  private expected(): number {
    return wireBlock(this.blocks + 1, this.rollTo ?? 0);
  }

  onData(wire: number, data: Buffer): void {
    this.heard = true;
    if (this.done) {
      // Dally (RFC 1350 §6): the final ACK was lost and the sender repeats the last DATA.
      if (this.complete && wire === wireBlock(this.blocks, this.rollTo ?? 0)) this.sendAck();
      return;
    }
    if (this.ending) return;
    let inOrder = wire === this.expected();
    if (!inOrder && this.rollTo === undefined && this.blocks + 1 > 0xffff && wire === 1) {
      // The sender rolls over to 1 instead of 0 (tftp-hpa `rollover=1`, some embedded servers).
      this.rollTo = 1;
      inOrder = true;
    }
    if (!inOrder) {
      if (this.holding) return;
      // RFC 7440 §4: out-of-order or repeated block — acknowledge the last block received in order, once.
      if (!this.oooAcked) {
        this.oooAcked = true;
        this.sendAck();
      }
      return;
    }
    if (this.blocks + 1 > 0xffff && this.rollTo === undefined) this.rollTo = 0;
    if (data.length > this.options.blksize) {
      this.stop();
      const msg = `DATA block of ${data.length} bytes exceeds the negotiated blksize ${this.options.blksize}`;
      this.options.io.fail(new TftpError('PROTOCOL', msg), {
        code: ErrorCode.ILLEGAL_OPERATION,
        message: msg,
      });
      return;
    }
    this.blocks++;
    this.bytes += data.length;
    this.oooAcked = false;
    this.tries = 0;
    if (this.timerMs !== this.options.timeoutMs) {
      this.timerMs = this.options.timeoutMs;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
    }
    let more = true;
    try {
      more = this.options.sink.write(data);
    } catch (e) {
      this.failSink(e);
      return;
    }
    if (data.length < this.options.blksize) {
      this.ending = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      Promise.resolve()
        .then(() => this.options.sink.end())
        .then(
          () => {
            if (this.done) return;
            this.sendAck();
            this.complete = true;
            this.stop();
            this.options.io.finish();
          },
          (e) => this.failSink(e),
        );
      return;
    }
    this.sinceAck++;
    if (this.sinceAck >= this.options.windowsize) {
      if (more) this.sendAck();
      else this.hold();
    } else if (!more) this.hold();
    this.arm();
  }

  /** The sink drained: send a held ACK. */
  resume(): void {
    if (!this.holding || this.done) return;
    this.holding = false;
    this.sendAck();
    this.arm();
  }

  stop(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private hold(): void {
    this.holding = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private failSink(e: unknown): void {
    if (this.done) return;
    this.stop();
    const err =
      e instanceof TftpError
        ? e
        : new TftpError('SINK_ERROR', `storing data failed: ${String(e)}`, { cause: e });
    this.options.io.fail(err, { code: ErrorCode.DISK_FULL, message: 'Write error' });
  }

  private sendAck(): void {
    this.sinceAck = 0;
    writeAck(this.ack, wireBlock(this.blocks, this.rollTo ?? 0));
    this.options.io.send(this.ack, 4);
  }

  private deadline = 0;

  /**
   * (Re)start the retransmit timeout. Progress only moves a deadline; the single timer re-checks it when it
   * fires, so the per-packet cost is one clock read instead of a timer-list update.
   */
  private arm(): void {
    if (this.done || this.holding || this.ending) return;
    const now = performance.now();
    const ms = this.heard ? this.timerMs : Math.max(1, Math.min(this.timerMs, this.firstReplyDeadline - now));
    this.deadline = now + ms;
    if (!this.timer) this.timer = setTimeout(this.tick, ms);
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (this.done || this.holding || this.ending) return;
    const left = this.deadline - performance.now();
    if (left > 1) {
      this.timer = setTimeout(this.tick, left);
      return;
    }
    this.onTimeout();
  };

  private onTimeout(): void {
    this.timer = undefined;
    if (this.done || this.holding || this.ending) return;
    this.tries++;
    if (!this.heard && performance.now() >= this.firstReplyDeadline - 1) {
      this.stop();
      this.options.io.fail(new TftpTimeoutError(`no DATA within ${this.options.firstReplyTimeoutMs} ms`));
      return;
    }
    if (this.tries > this.options.retries) {
      this.stop();
      this.options.io.fail(new TftpTimeoutError(`no DATA after ${this.options.retries} retransmissions`));
      return;
    }
    this.timerMs = Math.min(this.timerMs * 2, Math.max(16_000, this.options.timeoutMs));
    this.retransmits++;
    if (this.blocks === 0 && this.options.initial)
      this.options.io.send(this.options.initial, this.options.initial.length);
    else this.sendAck();
    this.arm();
  }
}
