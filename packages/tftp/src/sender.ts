/**
 * The sending side of a transfer (server RRQ, client WRQ): RFC 1350 §2 lock-step, generalised to an
 * RFC 7440 window. Retransmits only on timeout, with exponential backoff and a retry limit; a duplicate
 * ACK never triggers a resend (RFC 1123 §4.2.3.1, Sorcerer's Apprentice).
 */
import { wireBlock } from './block.js';
import { readAheadBytes } from './buffer-budget.js';
import { ErrorCode, TftpError, TftpTimeoutError } from './errors.js';
import type { RolloverPolicy } from './negotiation.js';
import type { ReadSource } from './source.js';

export interface MachineIo {
  /** Send a control packet: `len` bytes of `buf` to the peer. */
  send(buf: Buffer, len: number): void;
  /**
   * Send one DATA packet as a 4-byte header and its payload (scatter/gather), without copying: the payload
   * is a view of the source's memory or of a read buffer, which is not written again before `sent` ran.
   */
  sendData(header: Buffer, payload: Buffer, sent?: () => void): void;
  finish(): void;
  /** `errorPacket`: ERROR to send to the peer (code, message) before giving up. */
  fail(err: TftpError, errorPacket?: { code: number; message: string }): void;
}

/** Read-ahead memory shared by many senders (see BufferBudget). */
export interface ReadBudget {
  take(bytes: number): boolean;
  give(bytes: number): void;
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
  /**
   * Give up this long after `start()` when the peer never acknowledged the first packet (OACK or DATA 1),
   * whatever timeout it negotiated: a spoofed request holds a transfer slot only this long.
   */
  firstReplyTimeoutMs?: number;
  /** Bytes read ahead, both read buffers together (default: one window, at most READ_AHEAD_BYTES). */
  readAheadBytes?: number;
  /** Where the read-ahead chunk is reserved; when it is spent, blocks are read one at a time. */
  budget?: ReadBudget;
  io: MachineIo;
}

const MAX_BACKOFF_MS = 16_000;

export class Sender {
  bytes = 0;
  blocks = 0;
  retransmits = 0;
  /** Set when the transfer ended because only the final ACK never came. */
  finalAckMissing = false;
  private readonly options: SenderOptions;
  private readonly rollTo: 0 | 1;
  private readonly window: number;
  /** In-memory source: payloads are views of it (no copy, no per-transfer buffer). */
  private readonly direct: Buffer | undefined;
  private readonly chunkCap: number;
  /**
   * Read-ahead: two buffers used in turn (blocks are sent as views of them, so a buffer is refilled only
   * when every send from it has completed; else a fresh one is taken), dropped when the peer stalls.
   * Memory per transfer is these two buffers, not the window.
   */
  private chunk: ReadBuffer | undefined;
  private spare: ReadBuffer | undefined;
  private chunkPos = 0;
  private chunkLen = 0;
  /** The last refill read less than asked: the chunk ends at the end of the data. */
  private chunkAtEnd = false;
  private reserved = 0;
  /**
   * Payload bytes handed to the socket whose send has not completed (the kernel's send buffer was full, so
   * the datagram waits in user space, referencing its read buffer). Sending pauses at `queueCap` and
   * resumes as sends complete, so a slow or stalled path cannot pile a whole window up in memory.
   */
  private queued = 0;
  private queueWait = false;
  private readonly queueCap: number;
  private lastAcked = 0;
  private nextToSend = 1;
  private sentUpTo = 0;
  private finalBlock: number | undefined;
  private lastShortBytes = 0;
  private pumping = false;
  private again = false;
  private done = false;
  private heard = false;
  private firstReplyDeadline = Number.POSITIVE_INFINITY;
  private tries = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerMs: number;
  private deadline = 0;
  private awaitingAck0: boolean;

  constructor(options: SenderOptions) {
    this.options = options;
    this.rollTo = options.rollover === 'wrap1' ? 1 : 0;
    this.window = Math.max(1, Math.min(options.windowsize, 1024));
    this.direct = options.source.buffer;
    const readAhead = options.readAheadBytes ?? readAheadBytes(options.blksize, this.window);
    this.chunkCap = Math.max(1, Math.floor(readAhead / 2 / options.blksize)) * options.blksize;
    this.queueCap = 2 * this.chunkCap;
    const size = options.source.size;
    if (size !== undefined) this.finalBlock = Math.floor(size / options.blksize) + 1;
    this.timerMs = options.timeoutMs;
    this.awaitingAck0 = options.initial !== undefined;
  }
  /** Logical number of the last block, when known. */
  get totalBlocks(): number | undefined {
    return this.finalBlock;
  }

  start(): void {
    if (this.options.rollover === 'refuse' && this.finalBlock !== undefined && this.finalBlock > 0xffff) {
      this.stop();
      const msg = `File too large: ${this.finalBlock} blocks of ${this.options.blksize} bytes exceed 65535; request a larger blksize`;
      this.options.io.fail(new TftpError('TOO_LARGE', msg), { code: ErrorCode.NOT_DEFINED, message: msg });
      return;
    }
    if (this.options.firstReplyTimeoutMs !== undefined)
      this.firstReplyDeadline = performance.now() + this.options.firstReplyTimeoutMs;
    if (this.options.initial) {
      this.options.io.send(this.options.initial, this.options.initial.length);
      this.arm();
    } else this.pump();
  }

  /** Feed the 16-bit block number of an ACK from the peer. */
  onAck(wire: number): void {
    if (this.done) return;
    this.heard = true;
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
    let acked = -1;
    for (let b = this.lastAcked + 1; b <= this.sentUpTo; b++) {
      if (wireBlock(b, this.rollTo) === wire) {
        acked = b;
        break;
      }
    }
    // Duplicate or unknown ACK: ignore (RFC 1123 §4.2.3.1 — never resend on a duplicate ACK).
    if (acked < 0) return;
    this.acknowledged(acked);
    this.lastAcked = acked;
    this.nextToSend = acked + 1;
    this.progress();
    if (this.finalBlock !== undefined && acked >= this.finalBlock) {
      this.stop();
      this.options.io.finish();
      return;
    }
    this.pump();
  }

  /** Stop timers and free the read-ahead; the transfer is over (finished, failed or aborted by the caller). */
  stop(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dropChunk();
  }

  private acknowledged(block: number): void {
    const blksize = this.options.blksize;
    this.blocks = block;
    this.bytes = block === this.finalBlock ? (block - 1) * blksize + this.lastShortBytes : block * blksize;
    this.options.source.release?.(block * blksize);
  }

  private progress(): void {
    this.tries = 0;
    if (this.timerMs !== this.options.timeoutMs) {
      this.timerMs = this.options.timeoutMs;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * (Re)start the retransmit timeout. Progress only moves a deadline; the single timer re-checks it when it
   * fires, so the per-packet cost is one clock read instead of a timer-list update. Until the peer is heard
   * from, the timer never runs past the first-ACK deadline.
   */
  private arm(): void {
    if (this.done) return;
    const now = performance.now();
    const ms = this.heard ? this.timerMs : Math.max(1, Math.min(this.timerMs, this.firstReplyDeadline - now));
    this.deadline = now + ms;
    if (!this.timer) this.timer = setTimeout(this.tick, ms);
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
    if (!this.heard && performance.now() >= this.firstReplyDeadline - 1) {
      this.stop();
      this.options.io.fail(
        new TftpTimeoutError(`no ACK to the first packet within ${this.options.firstReplyTimeoutMs} ms`),
      );
      return;
    }
    if (this.tries > this.options.retries) {
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
        this.bytes = (this.finalBlock - 1) * this.options.blksize + this.lastShortBytes;
        this.options.io.finish();
        return;
      }
      this.options.io.fail(new TftpTimeoutError(`no ACK after ${this.options.retries} retransmissions`));
      return;
    }
    // A stalled peer holds no read-ahead: the window is read again when it is resent.
    this.dropChunk();
    // Backoff: double the timeout on every expiry (as tftp-hpa does), capped.
    this.timerMs = Math.min(this.timerMs * 2, Math.max(MAX_BACKOFF_MS, this.options.timeoutMs));
    if (this.awaitingAck0 && this.options.initial) {
      this.retransmits++;
      this.options.io.send(this.options.initial, this.options.initial.length);
      this.arm();
      return;
    }
    // RFC 7440 §4: on timeout, resend the window starting after the last acknowledged block.
    this.nextToSend = this.lastAcked + 1;
    this.pump();
  }

  /** The payload of block `block` (a view, 0..blksize bytes), or undefined when it must first be read. */
  private payload(block: number): Buffer | undefined {
    const blksize = this.options.blksize;
    const pos = (block - 1) * blksize;
    const size = this.options.source.size;
    if (this.direct) {
      const end = Math.min(this.direct.length, size ?? this.direct.length, pos + blksize);
      return this.direct.subarray(Math.min(pos, end), end);
    }
    const chunk = this.chunk?.data;
    const rel = pos - this.chunkPos;
    if (!chunk || rel < 0 || rel > this.chunkLen) return undefined;
    const avail = this.chunkLen - rel;
    // A block that crosses the end of a full chunk needs a refill; a short chunk ends at end of data.
    if (avail < blksize && !this.chunkAtEnd) return undefined;
    let len = Math.min(blksize, avail);
    if (size !== undefined) len = Math.max(0, Math.min(len, size - pos));
    return chunk.subarray(rel, rel + len);
  }

  /** Bytes for the next refill: the read-ahead when the budget grants it, else one block. */
  private chunkBytes(pos: number): number {
    const blksize = this.options.blksize;
    let want = this.chunkCap;
    const size = this.options.source.size;
    // Never more than what is left of a file of known size (plus the empty last block).
    if (size !== undefined) want = Math.min(want, Math.ceil((size - pos + 1) / blksize) * blksize);
    want = Math.max(blksize, want);
    // Both read buffers are reserved together.
    if (this.reserved >= 2 * want) return want;
    const budget = this.options.budget;
    if (!budget) return want;
    this.dropChunk();
    if (budget.take(2 * want)) {
      this.reserved = 2 * want;
      return want;
    }
    return blksize;
  }

  private dropChunk(): void {
    this.chunk = undefined;
    this.spare = undefined;
    if (this.reserved > 0) this.options.budget?.give(this.reserved);
    this.reserved = 0;
  }

  private async refill(block: number): Promise<void> {
    const pos = (block - 1) * this.options.blksize;
    const bytes = this.chunkBytes(pos);
    // The spare buffer's sends were issued before the last (asynchronous) read, so they have completed.
    const spare = this.spare;
    const target = spare && spare.pending === 0 && spare.data.length >= bytes ? spare : readBuffer(bytes);
    // Fill in a loop for sources that return partial reads; a short total means end of data.
    let total = 0;
    for (let i = 0; i < 1_000_000 && total < bytes; i++) {
      const got = await this.options.source.read(target.data, total, bytes - total, pos + total);
      if (got <= 0) break;
      total += got;
    }
    if (this.done) return;
    if (this.chunk !== target) this.spare = this.chunk;
    this.chunk = target;
    this.chunkPos = pos;
    this.chunkLen = total;
    this.chunkAtEnd = total < bytes;
  }

  /** A send from a read buffer completed: resume a window that waited for the socket. */
  private sent(bytes: number): void {
    this.queued -= bytes;
    if (this.queueWait && this.queued < this.queueCap && !this.done) {
      this.queueWait = false;
      this.pump();
    }
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

  private async refillAndPump(block: number): Promise<void> {
    try {
      await this.refill(block);
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
    this.options.io.fail(err, { code: ErrorCode.NOT_DEFINED, message: 'Read error' });
  }

  /** Returns 0 when the window is sent, or the block whose data must first be read. */
  private sendWindow(): number {
    const blksize = this.options.blksize;
    while (!this.done) {
      const block = this.nextToSend;
      if (block > this.lastAcked + this.window) break;
      if (this.finalBlock !== undefined && block > this.finalBlock) break;
      if (this.options.rollover === 'refuse' && block > 0xffff) {
        this.stop();
        const msg = 'File too large for 65535 blocks; request a larger blksize';
        this.options.io.fail(new TftpError('TOO_LARGE', msg), { code: ErrorCode.NOT_DEFINED, message: msg });
        return 0;
      }
      if (!this.direct && this.queued >= this.queueCap) {
        this.queueWait = true;
        break;
      }
      const data = this.payload(block);
      if (!data) return block;
      if (data.length < blksize) {
        this.finalBlock = block;
        this.lastShortBytes = data.length;
      }
      // RFC 1350 §5: DATA = opcode 3, block number, payload.
      const header = Buffer.allocUnsafe(4);
      header.writeUInt16BE(3, 0);
      header.writeUInt16BE(wireBlock(block, this.rollTo), 2);
      if (block <= this.sentUpTo) this.retransmits++;
      else this.sentUpTo = block;
      this.nextToSend = block + 1;
      const buffer = this.direct ? undefined : this.chunk;
      if (buffer) {
        buffer.pending++;
        this.queued += data.length;
        this.options.io.sendData(header, data, () => {
          buffer.pending--;
          this.sent(data.length);
        });
      } else this.options.io.sendData(header, data);
    }
    return 0;
  }
}

/** A read-ahead buffer and the number of sends still using it. */
interface ReadBuffer {
  data: Buffer;
  pending: number;
}

function readBuffer(bytes: number): ReadBuffer {
  return { data: Buffer.allocUnsafe(bytes), pending: 0 };
}
