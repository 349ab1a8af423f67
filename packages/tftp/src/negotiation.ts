/**
 * Option negotiation: RFC 2347 (OACK), RFC 2348 (blksize), RFC 2349 (timeout, tsize), RFC 7440 (windowsize),
 * plus tftp-hpa's de-facto `rollover`.
 */
import { ErrorCode, TftpError } from './errors.js';

/** RFC 1350 §2: default data size. */
export const DEFAULT_BLKSIZE = 512;
/** RFC 2348 §2: "valid values range between 8 and 65464 octets, inclusive". */
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
/** RFC 7440 §3: "valid values range between 1 and 65535 blocks, inclusive". */
export const MAX_WINDOWSIZE = 65535;
/** RFC 2349 §2: timeout "between 1 and 255 seconds, inclusive". */
export const MIN_TIMEOUT_S = 1;
export const MAX_TIMEOUT_S = 255;

export type RolloverPolicy = 'wrap0' | 'wrap1' | 'refuse';

export interface ServerNegotiationLimits {
  blksizeMax: number;
  windowsizeMax: number;
}

export interface Negotiated {
  blksize: number;
  windowsize: number;
  /** Retransmit timeout requested with RFC 2349 `timeout`, in ms. */
  timeoutMs?: number;
  /** RRQ: size the server announced; WRQ: size the client announced. */
  tsize?: number;
  /** Rollover block number if the client asked for one (tftp-hpa `rollover` option). */
  rollover?: 0 | 1;
  /** Options to put in the OACK, in the client's order; empty => no OACK (RFC 2347 §2: answer DATA 1 / ACK 0). */
  oack: Record<string, string>;
}

function parseIntStrict(v: string): number | undefined {
  if (!/^\d{1,10}$/.test(v)) return undefined;
  return Number(v);
}

/**
 * Server side of RFC 2347: accept what we support, clamp what we can, silently drop the rest.
 * `size` is the file size for RRQ (undefined if unknown, e.g. a stream or netascii).
 */
export function negotiateServer(
  requested: Record<string, string>,
  ctx: { write: boolean; octet: boolean; size: number | undefined; limits: ServerNegotiationLimits },
): Negotiated {
  const out: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1, oack: {} };
  for (const [name, raw] of Object.entries(requested)) {
    const n = parseIntStrict(raw);
    switch (name) {
      case 'blksize': {
        // RFC 2348 §2: the server may answer a smaller value; values below 8 are invalid (option ignored).
        if (n === undefined || n < MIN_BLKSIZE) break;
        const v = Math.min(n, MAX_BLKSIZE, ctx.limits.blksizeMax);
        out.blksize = v;
        out.oack.blksize = String(v);
        break;
      }
      case 'windowsize': {
        // RFC 7440 §3: the server may answer a smaller value (we clamp rather than refuse).
        if (n === undefined || n < 1) break;
        const v = Math.min(n, MAX_WINDOWSIZE, ctx.limits.windowsizeMax);
        out.windowsize = v;
        out.oack.windowsize = String(v);
        break;
      }
      case 'timeout': {
        // RFC 2349 §2: 1..255 s; the server must echo the same value or ignore the option.
        if (n === undefined || n < MIN_TIMEOUT_S || n > MAX_TIMEOUT_S) break;
        out.timeoutMs = n * 1000;
        out.oack.timeout = String(n);
        break;
      }
      case 'tsize': {
        // RFC 2349 §4: only meaningful in octet mode (netascii changes the size on the wire).
        if (n === undefined || !ctx.octet) break;
        if (ctx.write) {
          // WRQ: the client states the size; echo it.
          out.tsize = n;
          out.oack.tsize = String(n);
        } else if (ctx.size !== undefined) {
          // RRQ: the client sends 0 and the server answers the real size.
          out.tsize = ctx.size;
          out.oack.tsize = String(ctx.size);
        }
        break;
      }
      case 'rollover': {
        if (raw !== '0' && raw !== '1') break;
        out.rollover = raw === '0' ? 0 : 1;
        out.oack.rollover = raw;
        break;
      }
      default:
        // RFC 2347 §2: unrecognised options are ignored (not echoed).
        break;
    }
  }
  return out;
}

/** Client side: check an OACK against what was requested (RFC 2347 §2) and derive the transfer parameters. */
export function acceptOack(requested: Record<string, string>, oack: Record<string, string>): Negotiated {
  const out: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1, oack: { ...oack } };
  const fail = (why: string): never => {
    throw new TftpError('OPTION_NEGOTIATION', `server OACK rejected: ${why}`);
  };
  for (const [name, raw] of Object.entries(oack)) {
    // RFC 2347 §2: the server must not include options the client did not request.
    if (!(name in requested)) fail(`option '${name}' was not requested`);
    const n = parseIntStrict(raw);
    const asked = parseIntStrict(requested[name] ?? '');
    switch (name) {
      case 'blksize':
        if (n === undefined || n < MIN_BLKSIZE || (asked !== undefined && n > asked)) fail(`blksize ${raw}`);
        out.blksize = n as number;
        break;
      case 'windowsize':
        if (n === undefined || n < 1 || (asked !== undefined && n > asked)) fail(`windowsize ${raw}`);
        out.windowsize = n as number;
        break;
      case 'timeout':
        if (n === undefined || n < MIN_TIMEOUT_S || n > MAX_TIMEOUT_S) fail(`timeout ${raw}`);
        out.timeoutMs = (n as number) * 1000;
        break;
      case 'tsize':
        if (n === undefined) fail(`tsize ${raw}`);
        out.tsize = n as number;
        break;
      case 'rollover':
        if (raw !== '0' && raw !== '1') fail(`rollover ${raw}`);
        out.rollover = raw === '0' ? 0 : 1;
        break;
      default:
        break;
    }
  }
  return out;
}

export const OPTION_NEGOTIATION_FAILED = ErrorCode.OPTION_NEGOTIATION;
