/**
 * The sending side of a transfer (server RRQ, client WRQ): RFC 1350 §2 lock-step, generalised to an
 * RFC 7440 window. Retransmits only on timeout, with exponential backoff and a retry limit; a duplicate
 * ACK never triggers a resend (RFC 1123 §4.2.3.1, Sorcerer's Apprentice).
 */
import { wireBlock } from './block.js';
import { ErrorCode, TftpError, TftpTimeoutError } from './errors.js';
import type { RolloverPolicy } from './options.js';
import type { ReadSource } from './source.js';

export interface MachineIo {
  /** Send `len` bytes of `buf` to the peer. The buffer is reused only after the peer acknowledged it. */
  send(buf: Buffer, len: number): void;
  finish(): void;
  /** `errorPacket`: ERROR to send to the peer (code, message) before giving up. */
  fail(err: TftpError, errorPacket?: { code: number; message: string }): void;
}

export interface SenderOptions {
  source: ReadSource;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  retries: number;
  rollover: RolloverPolicy;
  /** Packet to (re)send until ACK 0 arrives (an OACK); omitted => start with DATA 1. */
  initial?: Buffer;
  io: MachineIo;
}

const MIN_CHUNK = 64 * 1024;
const MAX_BACKOFF_MS = 16_000;

export class Sender {
  bytes = 0;
  blocks = 0;
  retransmits = 0;
  /** Set when the transfer ended because only the final ACK never came. */
  finalAckMissing = false;
  private readonly o: SenderOptions;
  private readonly rollTo: 0 | 1;
  private readonly slots: Buffer[];
  private readonly chunk: Buffer;
  private chunkPos = 0;
  private chunkLen = 0;
  private lastAcked = 0;
  private nextToSend = 1;
  private sentUpTo = 0;
  private finalBlock: number | undefined;
  private pumping = false;
  private again = false;
  private done = false;
  private tries = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerMs: number;
  private awaitingAck0: boolean;

  constructor(o: SenderOptions) {
    this.o = o;
    this.rollTo = o.rollover === 'wrap1' ? 1 : 0;
    const size = o.source.size;
    // One packet buffer per window slot (a packet stays untouched until acknowledged); small files need
    // fewer and smaller ones, so per-transfer memory is bounded by min(file, windowsize × blksize).
    const blocksNeeded = size === undefined ? Number.POSITIVE_INFINITY : Math.floor(size / o.blksize) + 1;
    const w = Math.max(1, Math.min(o.windowsize, 1024));
    const slotBytes = 4 + (size === undefined ? o.blksize : Math.min(o.blksize, size));
    const slots = Array.from({ length: Math.min(w, blocksNeeded) }, () => Buffer.allocUnsafe(slotBytes));
    // Slots are indexed by block % windowsize: keep `w` entries, sharing buffers when fewer were needed.
    this.slots = Array.from({ length: w }, (_, i) => slots[i % slots.length] as Buffer);
    // Chunk: at least one window, at least 64 KiB, at most the file.
    let cap = Math.max(MIN_CHUNK, o.blksize * w);
    cap = Math.ceil(cap / o.blksize) * o.blksize;
    if (size !== undefined) cap = Math.min(cap, Math.ceil((size + 1) / o.blksize) * o.blksize);
    const direct = o.source.buffer;
    if (direct) {
      // In-memory source: serve blocks straight from it, no chunk copy or refill.
      this.chunk = direct;
      this.chunkLen = direct.length;
      this.chunkValid = true;
      this.direct = true;
    } else this.chunk = Buffer.allocUnsafe(cap);
    if (size !== undefined) this.finalBlock = Math.floor(size / o.blksize) + 1;
    this.timerMs = o.timeoutMs;
    this.awaitingAck0 = o.initial !== undefined;
  }

  /** Logical number of the last block, when known. */
  get totalBlocks(): number | undefined {
    return this.finalBlock;
  }

  start(): void {
    if (this.o.rollover === 'refuse' && this.finalBlock !== undefined && this.finalBlock > 0xffff) {
      this.stop();
      const msg = `File too large: ${this.finalBlock} blocks of ${this.o.blksize} bytes exceed 65535; request a larger blksize`;
      this.o.io.fail(new TftpError('TOO_LARGE', msg), { code: ErrorCode.NOT_DEFINED, message: msg });
      return;
    }
    if (this.o.initial) {
      this.o.io.send(this.o.initial, this.o.initial.length);
      this.arm();
    } else this.pump();
  }

  /** Feed the 16-bit block number of an ACK from the peer. */
  onAck(wire: number): void {
    if (this.done) return;
    if (this.awaitingAck0) {
      // RFC 2347 §2: after an OACK the client answers ACK 0.
      if (wire !== 0) return;
      this.awaitingAck0 = false;
      this.progress();
      this.pump();
      return;
    }
    // Map the wire number back onto the logical blocks in flight (RFC 7440 §4: an ACK may acknowledge
    // any block of the window; blocks after it are re-sent).
    let n = -1;
    for (let b = this.lastAcked + 1; b <= this.sentUpTo; b++) {
      if (wireBlock(b, this.rollTo) === wire) {
        n = b;
        break;
      }
    }
    // Duplicate or unknown ACK: ignore (RFC 1123 §4.2.3.1 — never resend on a duplicate ACK).
    if (n < 0) return;
    this.acked(n);
    this.lastAcked = n;
    this.nextToSend = n + 1;
    this.progress();
    if (this.finalBlock !== undefined && n >= this.finalBlock) {
      this.stop();
      this.o.io.finish();
      return;
    }
    this.pump();
  }

  /** Stop timers; the transfer is over (finished, failed or aborted by the caller). */
  stop(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private acked(n: number): void {
    const B = this.o.blksize;
    this.blocks = n;
    this.bytes = n === this.finalBlock ? (n - 1) * B + this.lastShortBytes : n * B;
    this.o.source.release?.(n * B);
  }

  private lastShortBytes = 0;
  private chunkValid = false;
  private direct = false;

  private progress(): void {
    this.tries = 0;
    if (this.timerMs !== this.o.timeoutMs) {
      this.timerMs = this.o.timeoutMs;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private deadline = 0;

  /**
   * (Re)start the retransmit timeout. Progress only moves a deadline; the single timer re-checks it when it
   * fires, so the per-packet cost is one clock read instead of a timer-list update.
   */
  private arm(): void {
    if (this.done) return;
    this.deadline = performance.now() + this.timerMs;
    if (!this.timer) this.timer = setTimeout(this.tick, this.timerMs);
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (this.done) return;
    const left = this.deadline - performance.now();
    if (left > 1) {
      this.timer = setTimeout(this.tick, left);
      return;
    }
    this.onTimeout();
  };

  private onTimeout(): void {
    this.timer = undefined;
    if (this.done) return;
    this.tries++;
    if (this.tries > this.o.retries) {
      this.stop();
      if (
        this.finalBlock !== undefined &&
        this.sentUpTo === this.finalBlock &&
        this.lastAcked === this.finalBlock - 1
      ) {
        // Only the final ACK is missing: many clients exit without it or it was lost (RFC 1350 §6 lets the
        // receiver stop after its last ACK). Like dnsmasq, count the transfer as complete but say so.
        this.finalAckMissing = true;
        this.blocks = this.finalBlock;
        this.bytes = (this.finalBlock - 1) * this.o.blksize + this.lastShortBytes;
        this.o.io.finish();
        return;
      }
      this.o.io.fail(new TftpTimeoutError(`no ACK after ${this.o.retries} retransmissions`));
      return;
    }
    // Backoff: double the timeout on every expiry (as tftp-hpa does), capped.
    this.timerMs = Math.min(this.timerMs * 2, Math.max(MAX_BACKOFF_MS, this.o.timeoutMs));
    if (this.awaitingAck0 && this.o.initial) {
      this.retransmits++;
      this.o.io.send(this.o.initial, this.o.initial.length);
      this.arm();
      return;
    }
    // RFC 7440 §4: on timeout, resend the window starting after the last acknowledged block.
    this.nextToSend = this.lastAcked + 1;
    this.pump();
  }

  /** Copy block `n` out of the chunk into its slot; returns payload length, or -1 if not buffered. */
  private fromChunk(n: number, slot: Buffer): number {
    const B = this.o.blksize;
    const pos = (n - 1) * B;
    const rel = pos - this.chunkPos;
    if (this.direct && rel > this.chunkLen) return 0;
    if (!this.chunkValid || rel < 0 || rel > this.chunkLen) return -1;
    const avail = this.chunkLen - rel;
    // A block that crosses the end of a full chunk needs a refill; a short chunk ends at end of data.
    if (avail < B && !this.direct && this.chunkLen === this.chunk.length) return -1;
    let len = Math.min(B, avail);
    const size = this.o.source.size;
    if (size !== undefined) len = Math.max(0, Math.min(len, size - pos));
    this.chunk.copy(slot, 4, rel, rel + len);
    return len;
  }

  private async refill(n: number): Promise<void> {
    const pos = (n - 1) * this.o.blksize;
    const len = await this.o.source.read(this.chunk, 0, this.chunk.length, pos);
    // A short read means end of data (fill the rest in a loop for sources that return partial reads).
    let total = len;
    while (total > 0 && total < this.chunk.length) {
      const more = await this.o.source.read(this.chunk, total, this.chunk.length - total, pos + total);
      if (more <= 0) break;
      total += more;
    }
    this.chunkPos = pos;
    this.chunkLen = total;
    this.chunkValid = true;
  }

  /** Send every block the window allows. Synchronous unless a chunk must be read from the source. */
  private pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        const stalled = this.sendWindow();
        if (stalled > 0) {
          // Hand over to the async refill; `pumping` stays set until it is done.
          this.refillAndPump(stalled);
          return;
        }
      } while (this.again && !this.done);
      this.arm();
    } catch (e) {
      this.sourceFailed(e);
    }
    this.pumping = false;
  }

  private async refillAndPump(b: number): Promise<void> {
    try {
      await this.refill(b);
    } catch (e) {
      this.pumping = false;
      this.sourceFailed(e);
      return;
    }
    this.pumping = false;
    if (!this.done) this.pump();
  }

  private sourceFailed(e: unknown): void {
    if (this.done) return;
    this.stop();
    const err =
      e instanceof TftpError
        ? e
        : new TftpError('SOURCE_ERROR', `reading the source failed: ${String(e)}`, { cause: e });
    this.o.io.fail(err, { code: ErrorCode.NOT_DEFINED, message: 'Read error' });
  }

  /** Returns 0 when the window is sent, or the block whose data must first be read. */
  private sendWindow(): number {
    const W = this.slots.length;
    while (!this.done) {
      const b = this.nextToSend;
      if (b > this.lastAcked + W) break;
      if (this.finalBlock !== undefined && b > this.finalBlock) break;
      if (this.o.rollover === 'refuse' && b > 0xffff) {
        this.stop();
        const msg = 'File too large for 65535 blocks; request a larger blksize';
        this.o.io.fail(new TftpError('TOO_LARGE', msg), { code: ErrorCode.NOT_DEFINED, message: msg });
        return 0;
      }
      const slot = this.slots[b % W] as Buffer;
      const len = this.fromChunk(b, slot);
      if (len < 0) return b;
      if (len < this.o.blksize) {
        this.finalBlock = b;
        this.lastShortBytes = len;
      }
      slot[0] = 0;
      slot[1] = 3;
      const w = wireBlock(b, this.rollTo);
      slot[2] = w >>> 8;
      slot[3] = w & 0xff;
      if (b <= this.sentUpTo) this.retransmits++;
      else this.sentUpTo = b;
      this.nextToSend = b + 1;
      this.o.io.send(slot, 4 + len);
    }
    return 0;
  }
}
