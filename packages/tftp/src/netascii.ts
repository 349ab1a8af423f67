/**
 * netascii (RFC 1350 §1 and Appendix, after RFC 764 Telnet NVT): line ends are CR LF and a bare CR is CR NUL.
 * The local representation is Unix text (LF line ends).
 */

import { TftpError } from './errors.js';
import type { ReadSource } from './source.js';

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

/** Local text → netascii: LF → CR LF, CR → CR NUL. */
export function toNetascii(input: Uint8Array): Buffer {
  let extra = 0;
  for (let i = 0; i < input.length; i++) if (input[i] === LF || input[i] === CR) extra++;
  const out = Buffer.allocUnsafe(input.length + extra);
  let at = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as number;
    if (c === LF) {
      out[at++] = CR;
      out[at++] = LF;
    } else if (c === CR) {
      out[at++] = CR;
      out[at++] = NUL;
    } else out[at++] = c;
  }
  return out;
}

/** Streaming netascii → local text decoder (a CR may end one chunk and its LF/NUL start the next). */
export class NetasciiDecoder {
  private pendingCr = false;

  write(input: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(input.length + 1);
    let at = 0;
    let i = 0;
    if (this.pendingCr && input.length > 0) {
      this.pendingCr = false;
      const c = input[0] as number;
      if (c === LF) {
        out[at++] = LF;
        i = 1;
      } else if (c === NUL) {
        out[at++] = CR;
        i = 1;
      } else out[at++] = CR;
    }
    for (; i < input.length; i++) {
      const c = input[i] as number;
      if (c !== CR) {
        out[at++] = c;
        continue;
      }
      if (i + 1 >= input.length) {
        this.pendingCr = true;
        break;
      }
      const n = input[i + 1] as number;
      if (n === LF) {
        out[at++] = LF;
        i++;
      } else if (n === NUL) {
        out[at++] = CR;
        i++;
      } else out[at++] = CR;
    }
    return out.subarray(0, at);
  }

  /** Flush a trailing lone CR. */
  end(): Buffer {
    if (!this.pendingCr) return Buffer.alloc(0);
    this.pendingCr = false;
    return Buffer.from([CR]);
  }
}

/** Whole-buffer netascii → local text. */
export function fromNetascii(input: Uint8Array): Buffer {
  const d = new NetasciiDecoder();
  return Buffer.concat([d.write(input), d.end()]);
}

/** Where netascii output position `out` starts: input position and a second byte still owed (-1: none). */
interface NetasciiMark {
  out: number;
  in: number;
  pending: number;
}

const MAX_MARKS = 256;
const SCRATCH_BYTES = 64 * 1024;

/**
 * A read source converted to netascii as it is read (RFC 1350 §1), holding no more than one scratch buffer:
 * output positions are mapped back to input positions through marks left at the end of every read, so a
 * retransmitted window is converted again from the nearest mark. The size is unknown (netascii changes it),
 * so tsize is not offered.
 */
export function netasciiSource(inner: ReadSource): ReadSource {
  const marks: NetasciiMark[] = [{ out: 0, in: 0, pending: -1 }];
  let scratch: Buffer | undefined;
  const markAtOrBefore = (position: number): NetasciiMark => {
    let best = marks[0] as NetasciiMark;
    for (const m of marks) if (m.out <= position && m.out >= best.out) best = m;
    return best;
  };
  return {
    size: undefined,
    async read(target, offset, length, position) {
      const start = markAtOrBefore(position);
      if (start.out > position)
        throw new TftpError('STREAM_REWIND', 'netascii source cannot rewind past released data');
      const end = position + length;
      let outPos = start.out;
      let inPos = start.in;
      let pending = start.pending;
      const put = (byte: number) => {
        if (outPos >= position) target[offset + outPos - position] = byte;
        outPos++;
      };
      scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES);
      for (let round = 0; round < 1_000_000 && outPos < end; round++) {
        if (pending >= 0) {
          put(pending);
          pending = -1;
          continue;
        }
        // Every input byte yields at least one output byte: never read more than can be used.
        const want = Math.min(scratch.length, end - outPos);
        const n = await inner.read(scratch, 0, want, inPos);
        if (n <= 0) break;
        for (let i = 0; i < n && outPos < end; i++) {
          const c = scratch[i] as number;
          inPos++;
          if (c === LF || c === CR) {
            put(CR);
            const second = c === LF ? LF : NUL;
            if (outPos < end) put(second);
            else pending = second;
          } else put(c);
        }
      }
      const last = marks[marks.length - 1] as NetasciiMark;
      if (outPos > last.out) {
        marks.push({ out: outPos, in: inPos, pending });
        if (marks.length > MAX_MARKS) marks.splice(1, 1);
      }
      return Math.max(0, outPos - position);
    },
    release(position) {
      const keep = markAtOrBefore(position);
      const from = marks.indexOf(keep);
      if (from > 0) marks.splice(0, from);
      inner.release?.(keep.in);
    },
    close: () => inner.close(),
  };
}
