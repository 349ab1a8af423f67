/**
 * netascii (RFC 1350 §1 and Appendix, after RFC 764 Telnet NVT): line ends are CR LF and a bare CR is CR NUL.
 * The local representation is Unix text (LF line ends).
 */

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

/** Local text → netascii: LF → CR LF, CR → CR NUL. */
export function toNetascii(input: Uint8Array): Buffer {
  let extra = 0;
  for (let i = 0; i < input.length; i++) if (input[i] === LF || input[i] === CR) extra++;
  const out = Buffer.allocUnsafe(input.length + extra);
  let o = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as number;
    if (c === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (c === CR) {
      out[o++] = CR;
      out[o++] = NUL;
    } else out[o++] = c;
  }
  return out;
}

/** Streaming netascii → local text decoder (a CR may end one chunk and its LF/NUL start the next). */
export class NetasciiDecoder {
  private pendingCr = false;

  write(input: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(input.length + 1);
    let o = 0;
    let i = 0;
    if (this.pendingCr && input.length > 0) {
      this.pendingCr = false;
      const c = input[0] as number;
      if (c === LF) {
        out[o++] = LF;
        i = 1;
      } else if (c === NUL) {
        out[o++] = CR;
        i = 1;
      } else out[o++] = CR;
    }
    for (; i < input.length; i++) {
      const c = input[i] as number;
      if (c !== CR) {
        out[o++] = c;
        continue;
      }
      if (i + 1 >= input.length) {
        this.pendingCr = true;
        break;
      }
      const n = input[i + 1] as number;
      if (n === LF) {
        out[o++] = LF;
        i++;
      } else if (n === NUL) {
        out[o++] = CR;
        i++;
      } else out[o++] = CR;
    }
    return out.subarray(0, o);
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
