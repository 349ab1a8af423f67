/**
 * BOOTP/DHCP message codec (RFC 2131 §2, RFC 951, RFC 2132 §3 and §9.3, RFC 3396).
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+---------------+---------------+---------------+
 * |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
 * +---------------+---------------+---------------+---------------+
 * |                            xid (4)                            |
 * +-------------------------------+-------------------------------+
 * |           secs (2)            |           flags (2)           |
 * +-------------------------------+-------------------------------+
 * |  ciaddr (4) | yiaddr (4) | siaddr (4) | giaddr (4)            |
 * |  chaddr (16) | sname (64) | file (128)                         |
 * |  magic cookie 99.130.83.99 (RFC 2131 §3) | options (variable)  |
 * +---------------------------------------------------------------+
 * ```
 */
import { DhcpDecodeError, DhcpEncodeError } from './errors.js';
import { readIPv4, writeIPv4 } from './ipv4.js';

/** A decoded BOOTP/DHCP message. Field names follow RFC 2131 §2. */
export interface DhcpMessage {
  /** 1 = BOOTREQUEST, 2 = BOOTREPLY. */
  op: 1 | 2;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** 16 bytes as on the wire; the hardware address is the first `hlen` bytes. */
  chaddr: Buffer;
  /** Server host name (latin1, up to the first NUL); '' when the field carries options (overload). */
  sname: string;
  /** Boot file name (latin1, up to the first NUL); '' when the field carries options (overload). */
  file: string;
  /**
   * Raw option values keyed by code, in wire order of first appearance. Long options split into
   * several instances (RFC 3396) are already joined, options carried in `file`/`sname` (option 52
   * overload, RFC 2132 §9.3) are already merged, and option 52 itself is not listed: the encoder
   * adds it when it has to overload. PAD (0) and END (255) never appear here.
   */
  options: Map<number, Buffer>;
}

/** Options for {@link encodeMessage} and {@link encodingLength}. */
export interface EncodeOptions {
  /**
   * Largest message the receiver accepts (bytes, BOOTP header included). When the options do not fit,
   * they overflow into `file` and then `sname` with option 52 (RFC 2132 §9.3), if those are empty.
   * Default: no limit (no overload).
   */
  maxLength?: number;
  /** Pad with PAD (0) after END up to this total length (e.g. 300, the BOOTP minimum some relays expect). */
  padTo?: number;
}

export const BOOTP_HEADER_LENGTH = 236;
export const MAGIC_COOKIE = 0x63825363;
const OPTIONS_OFFSET = 240;
const SNAME_OFFSET = 44;
const SNAME_LENGTH = 64;
const FILE_OFFSET = 108;
const FILE_LENGTH = 128;
const OPT_PAD = 0;
const OPT_END = 255;
const OPT_OVERLOAD = 52;

type Segment = { kind: 'pad' } | { kind: 'end' } | { kind: 'opt'; code: number; length: number };
type FieldName = 'options' | 'file' | 'sname';
interface Region {
  segments: Segment[];
  /** Bytes after END (or after the last option when END is missing). */
  tail: Buffer;
}
/** What decoding saw on the wire beyond the message fields, so an unchanged message re-encodes byte for byte. */
interface WireLayout {
  regions: Partial<Record<FieldName, Region>>;
  overload: Buffer | undefined;
  rawSname: Buffer;
  rawFile: Buffer;
  sname: string;
  file: string;
  options: Array<[number, Buffer]>;
}

const layouts = new WeakMap<DhcpMessage, WireLayout>();

// ---------------------------------------------------------------------------------------------
// decode
// ---------------------------------------------------------------------------------------------

function fail(code: 'MALFORMED' | 'TRUNCATED' | 'BAD_COOKIE', message: string, offset?: number): never {
  throw new DhcpDecodeError(code, message, offset);
}

/** Text of a fixed-size field: bytes up to the first NUL, as latin1 (lossless for any byte). */
function fieldText(buf: Uint8Array, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + offset, end - offset).toString('latin1');
}

/** Walk one option area (RFC 2132 §2: code, length, data; PAD and END are single bytes). */
function scanRegion(
  buf: Uint8Array,
  start: number,
  end: number,
  field: FieldName,
  onOption: (code: number, data: Uint8Array) => void,
): Region {
  const segments: Segment[] = [];
  let p = start;
  while (p < end) {
    const code = buf[p] as number;
    if (code === OPT_PAD) {
      segments.push({ kind: 'pad' });
      p++;
      continue;
    }
    if (code === OPT_END) {
      segments.push({ kind: 'end' });
      p++;
      return { segments, tail: Buffer.from(buf.subarray(p, end)) };
    }
    if (p + 1 >= end) fail('MALFORMED', `option ${code} in ${field} has no length byte`, p);
    const length = buf[p + 1] as number;
    if (p + 2 + length > end) {
      fail(
        'MALFORMED',
        `option ${code} in ${field} claims ${length} bytes but only ${end - p - 2} remain`,
        p,
      );
    }
    segments.push({ kind: 'opt', code, length });
    onOption(code, buf.subarray(p + 2, p + 2 + length));
    p += 2 + length;
  }
  return { segments, tail: Buffer.alloc(0) };
}

/**
 * Decode a BOOTP/DHCP message. Unknown and vendor-private options are kept as raw bytes.
 * Throws only {@link DhcpDecodeError} (codes `TRUNCATED`, `BAD_COOKIE`, `MALFORMED`).
 */
export function decodeMessage(input: Uint8Array): DhcpMessage {
  if (!(input instanceof Uint8Array)) fail('MALFORMED', 'expected the packet as a Buffer or Uint8Array');
  const buf = input;
  if (buf.length < OPTIONS_OFFSET) {
    fail('TRUNCATED', `a DHCP message is at least ${OPTIONS_OFFSET} bytes, got ${buf.length}`, buf.length);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const op = buf[0];
  if (op !== 1 && op !== 2) fail('MALFORMED', `op must be 1 (BOOTREQUEST) or 2 (BOOTREPLY), got ${op}`, 0);
  // RFC 2131 §3: the first four octets of the options field are the magic cookie 99.130.83.99.
  if (view.getUint32(BOOTP_HEADER_LENGTH) !== MAGIC_COOKIE) {
    fail('BAD_COOKIE', 'missing DHCP magic cookie 99.130.83.99 at offset 236 (plain BOOTP?)', 236);
  }
  const collected = new Map<number, Buffer[]>();
  let overloadParts: Buffer[] | undefined;
  const onOption = (code: number, data: Uint8Array, field: FieldName) => {
    if (code === OPT_OVERLOAD) {
      // RFC 2132 §9.3: option 52 is only meaningful in the options field.
      if (field !== 'options') fail('MALFORMED', `option 52 (overload) found inside ${field}`);
      overloadParts ??= [];
      overloadParts.push(Buffer.from(data));
      return;
    }
    let parts = collected.get(code);
    if (!parts) {
      parts = [];
      collected.set(code, parts);
    }
    parts.push(Buffer.from(data));
  };
  const regions: Partial<Record<FieldName, Region>> = {};
  regions.options = scanRegion(buf, OPTIONS_OFFSET, buf.length, 'options', (c, d) =>
    onOption(c, d, 'options'),
  );
  let overload: Buffer | undefined;
  let overloadValue = 0;
  if (overloadParts) {
    overload = Buffer.concat(overloadParts);
    overloadValue = overload[0] ?? 0;
    if (overload.length !== 1 || overloadValue < 1 || overloadValue > 3) {
      fail('MALFORMED', `option 52 (overload) must be one byte 1, 2 or 3, got ${overload.toString('hex')}`);
    }
  }
  // RFC 2131 §4.1 / RFC 3396 §5: concatenation order is options field, then file, then sname.
  if (overloadValue & 1) {
    regions.file = scanRegion(buf, FILE_OFFSET, FILE_OFFSET + FILE_LENGTH, 'file', (c, d) =>
      onOption(c, d, 'file'),
    );
  }
  if (overloadValue & 2) {
    regions.sname = scanRegion(buf, SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH, 'sname', (c, d) =>
      onOption(c, d, 'sname'),
    );
  }
  const options = new Map<number, Buffer>();
  for (const [code, parts] of collected)
    options.set(code, parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
  const sname = overloadValue & 2 ? '' : fieldText(buf, SNAME_OFFSET, SNAME_LENGTH);
  const file = overloadValue & 1 ? '' : fieldText(buf, FILE_OFFSET, FILE_LENGTH);
  const msg: DhcpMessage = {
    op,
    htype: buf[1] as number,
    hlen: buf[2] as number,
    hops: buf[3] as number,
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: readIPv4(buf, 12),
    yiaddr: readIPv4(buf, 16),
    siaddr: readIPv4(buf, 20),
    giaddr: readIPv4(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname,
    file,
    options,
  };
  layouts.set(msg, {
    regions,
    overload,
    rawSname: Buffer.from(buf.subarray(SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH)),
    rawFile: Buffer.from(buf.subarray(FILE_OFFSET, FILE_OFFSET + FILE_LENGTH)),
    sname,
    file,
    options: [...options].map(([c, v]) => [c, Buffer.from(v)]),
  });
  return msg;
}

// ---------------------------------------------------------------------------------------------
// encode
// ---------------------------------------------------------------------------------------------

type Piece = { kind: 'pad' } | { kind: 'end' } | { kind: 'opt'; code: number; data: Buffer };
interface PlannedRegion {
  pieces: Piece[];
  tail: Buffer;
}
interface Plan {
  options: PlannedRegion;
  file: PlannedRegion | Buffer;
  sname: PlannedRegion | Buffer;
  length: number;
}

function regionBytes(r: PlannedRegion): number {
  let n = r.tail.length;
  for (const p of r.pieces) n += p.kind === 'opt' ? 2 + p.data.length : 1;
  return n;
}

function textField(text: string, size: number, name: string): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255)
      throw new DhcpEncodeError(`${name} must be latin1 text; character ${i} is U+${c.toString(16)}`);
  }
  if (text.length > size)
    throw new DhcpEncodeError(`${name} is ${text.length} bytes; the field holds ${size}`);
  out.write(text, 'latin1');
  return out;
}

function sameOptions(a: Map<number, Buffer>, b: Array<[number, Buffer]>): boolean {
  if (a.size !== b.length) return false;
  let i = 0;
  for (const [code, value] of a) {
    const other = b[i++];
    if (!other || other[0] !== code || !Buffer.isBuffer(value) || !value.equals(other[1])) return false;
  }
  return true;
}

/** Re-emit the segments seen on the wire, slicing each code's joined value in order. */
function planFromLayout(msg: DhcpMessage, layout: WireLayout): Plan {
  const cursors = new Map<number, number>();
  const joinedValue = (code: number): Buffer =>
    code === OPT_OVERLOAD ? (layout.overload as Buffer) : (msg.options.get(code) as Buffer);
  const replay = (region: Region): PlannedRegion => ({
    tail: region.tail,
    pieces: region.segments.map((s): Piece => {
      if (s.kind !== 'opt') return s;
      const at = cursors.get(s.code) ?? 0;
      cursors.set(s.code, at + s.length);
      return { kind: 'opt', code: s.code, data: joinedValue(s.code).subarray(at, at + s.length) };
    }),
  });
  const options = replay(layout.regions.options as Region);
  const file = layout.regions.file ? replay(layout.regions.file) : layout.rawFile;
  const sname = layout.regions.sname ? replay(layout.regions.sname) : layout.rawSname;
  return { options, file, sname, length: OPTIONS_OFFSET + regionBytes(options) };
}

function canLayoutApply(msg: DhcpMessage, layout: WireLayout): boolean {
  if (!sameOptions(msg.options, layout.options)) return false;
  if (msg.sname !== layout.sname || msg.file !== layout.file) return false;
  return true;
}

function checkOptions(msg: DhcpMessage): void {
  if (!(msg.options instanceof Map)) throw new DhcpEncodeError('options must be a Map<number, Buffer>');
  for (const [code, value] of msg.options) {
    if (!Number.isInteger(code) || code < 1 || code > 254) {
      throw new DhcpEncodeError(`option codes are 1..254 (0 is PAD, 255 is END), got ${code}`);
    }
    if (!(value instanceof Uint8Array)) throw new DhcpEncodeError(`option ${code} value must be a Buffer`);
  }
}

/** Canonical layout: options in map order, each split into ≤255-byte instances (RFC 3396 §6), then END. */
function planCanonical(msg: DhcpMessage, opts: EncodeOptions): Plan {
  const chunks: Array<{ code: number; data: Buffer }> = [];
  for (const [code, value] of msg.options) {
    if (code === OPT_OVERLOAD) continue; // computed below
    const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (v.length === 0) chunks.push({ code, data: v });
    for (let i = 0; i < v.length; i += 255) chunks.push({ code, data: v.subarray(i, i + 255) });
  }
  const total = chunks.reduce((n, c) => n + 2 + c.data.length, 0);
  const fileText = textField(msg.file, FILE_LENGTH, 'file');
  const snameText = textField(msg.sname, SNAME_LENGTH, 'sname');
  const max = opts.maxLength;
  const options: PlannedRegion = { pieces: [], tail: Buffer.alloc(0) };
  let file: PlannedRegion | Buffer = fileText;
  let sname: PlannedRegion | Buffer = snameText;
  if (max === undefined || OPTIONS_OFFSET + total + 1 <= max) {
    for (const c of chunks) options.pieces.push({ kind: 'opt', ...c });
  } else {
    // RFC 2132 §9.3 overload: fill options (keeping room for option 52 and END), then file, then sname.
    const regions: Array<{ field: 'options' | 'file' | 'sname'; room: number; r: PlannedRegion }> = [];
    const optRoom = max - OPTIONS_OFFSET - 3 - 1;
    if (optRoom < 0) throw new DhcpEncodeError(`maxLength ${max} leaves no room for options`);
    regions.push({ field: 'options', room: optRoom, r: options });
    if (msg.file === '')
      regions.push({ field: 'file', room: FILE_LENGTH - 1, r: { pieces: [], tail: Buffer.alloc(0) } });
    if (msg.sname === '') {
      regions.push({ field: 'sname', room: SNAME_LENGTH - 1, r: { pieces: [], tail: Buffer.alloc(0) } });
    }
    let ri = 0;
    let used = 0;
    const queue = [...chunks];
    while (queue.length > 0) {
      const region = regions[ri];
      if (!region) throw new DhcpEncodeError(`options need ${total} bytes; they do not fit in ${max} bytes`);
      const c = queue[0] as { code: number; data: Buffer };
      const free = region.room - used;
      if (2 + c.data.length <= free) {
        region.r.pieces.push({ kind: 'opt', ...c });
        used += 2 + c.data.length;
        queue.shift();
      } else if (free >= 3 && c.data.length > 0) {
        // RFC 3396 §7: an option may be split across the overloaded fields.
        region.r.pieces.push({ kind: 'opt', code: c.code, data: c.data.subarray(0, free - 2) });
        queue[0] = { code: c.code, data: c.data.subarray(free - 2) };
        used = region.room;
      } else {
        ri++;
        used = 0;
      }
    }
    let overload = 0;
    for (const region of regions) {
      if (region.field === 'file' && region.r.pieces.length > 0) overload |= 1;
      if (region.field === 'sname' && region.r.pieces.length > 0) overload |= 2;
    }
    if (overload !== 0)
      options.pieces.unshift({ kind: 'opt', code: OPT_OVERLOAD, data: Buffer.from([overload]) });
    for (const region of regions) {
      if (region.field === 'options' || region.r.pieces.length === 0) continue;
      region.r.pieces.push({ kind: 'end' });
      const size = region.field === 'file' ? FILE_LENGTH : SNAME_LENGTH;
      region.r.tail = Buffer.alloc(size - regionBytes(region.r));
      if (region.field === 'file') file = region.r;
      else sname = region.r;
    }
  }
  options.pieces.push({ kind: 'end' });
  let length = OPTIONS_OFFSET + regionBytes(options);
  if (opts.padTo !== undefined && length < opts.padTo) {
    options.tail = Buffer.alloc(opts.padTo - length);
    length = opts.padTo;
  }
  return { options, file, sname, length };
}

function checkHeader(msg: DhcpMessage): void {
  if (msg.op !== 1 && msg.op !== 2) throw new DhcpEncodeError(`op must be 1 or 2, got ${String(msg.op)}`);
  const u = (name: string, v: number, bits: 8 | 16 | 32) => {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) {
      throw new DhcpEncodeError(`${name} must be an unsigned ${bits}-bit integer, got ${v}`);
    }
  };
  u('htype', msg.htype, 8);
  u('hlen', msg.hlen, 8);
  u('hops', msg.hops, 8);
  u('xid', msg.xid, 32);
  u('secs', msg.secs, 16);
  u('flags', msg.flags, 16);
  if (!Buffer.isBuffer(msg.chaddr) || msg.chaddr.length !== 16) {
    throw new DhcpEncodeError('chaddr must be a 16-byte Buffer (pad the MAC with zeros)');
  }
  checkOptions(msg);
}

function plan(msg: DhcpMessage, opts: EncodeOptions): Plan {
  checkHeader(msg);
  const layout = layouts.get(msg);
  if (layout && opts.maxLength === undefined && opts.padTo === undefined && canLayoutApply(msg, layout)) {
    return planFromLayout(msg, layout);
  }
  return planCanonical(msg, opts);
}

function writeRegion(out: Buffer, offset: number, r: PlannedRegion): number {
  let p = offset;
  for (const piece of r.pieces) {
    if (piece.kind === 'pad') out[p++] = OPT_PAD;
    else if (piece.kind === 'end') out[p++] = OPT_END;
    else {
      out[p] = piece.code;
      out[p + 1] = piece.data.length;
      piece.data.copy(out, p + 2);
      p += 2 + piece.data.length;
    }
  }
  r.tail.copy(out, p);
  return p + r.tail.length;
}

/**
 * Encode a message. A message returned by {@link decodeMessage} and left unchanged re-encodes to the
 * exact bytes it was decoded from (PAD bytes, option order and splitting, bytes after END kept).
 * Otherwise options are written in map order, long ones split per RFC 3396, followed by END.
 * Throws {@link DhcpEncodeError} for out-of-range fields.
 */
export function encodeMessage(msg: DhcpMessage, opts: EncodeOptions = {}): Buffer {
  const pl = plan(msg, opts);
  const out = Buffer.alloc(pl.length);
  out[0] = msg.op;
  out[1] = msg.htype;
  out[2] = msg.hlen;
  out[3] = msg.hops;
  out.writeUInt32BE(msg.xid >>> 0, 4);
  out.writeUInt16BE(msg.secs, 8);
  out.writeUInt16BE(msg.flags, 10);
  writeIPv4(out, 12, msg.ciaddr);
  writeIPv4(out, 16, msg.yiaddr);
  writeIPv4(out, 20, msg.siaddr);
  writeIPv4(out, 24, msg.giaddr);
  msg.chaddr.copy(out, 28, 0, 16);
  if (Buffer.isBuffer(pl.sname)) pl.sname.copy(out, SNAME_OFFSET);
  else writeRegion(out, SNAME_OFFSET, pl.sname);
  if (Buffer.isBuffer(pl.file)) pl.file.copy(out, FILE_OFFSET);
  else writeRegion(out, FILE_OFFSET, pl.file);
  out.writeUInt32BE(MAGIC_COOKIE, BOOTP_HEADER_LENGTH);
  writeRegion(out, OPTIONS_OFFSET, pl.options);
  return out;
}

/**
 * Exact length {@link encodeMessage} produces for `msg` with the same options: the codec is
 * `encodeMessage` / `decodeMessage` / `encodingLength`, like @bramble/tftp's `encode` / `decode` /
 * `encodingLength`.
 */
export function encodingLength(msg: DhcpMessage, opts: EncodeOptions = {}): number {
  return plan(msg, opts).length;
}

/** A blank message with all addresses 0.0.0.0, Ethernet hardware type and no options. */
export function emptyMessage(op: 1 | 2): DhcpMessage {
  return {
    op,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: Buffer.alloc(16),
    sname: '',
    file: '',
    options: new Map(),
  };
}

/** The client's hardware address as lowercase colon-separated hex (first `hlen` bytes of chaddr, at most 16). */
export function macOf(msg: DhcpMessage): string {
  const n = Math.min(msg.hlen, 16);
  return [...msg.chaddr.subarray(0, n)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Parse 'dc:a6:32:01:36:c2' (or '-' separated) into a 16-byte chaddr. */
export function chaddrFromMac(mac: string): Buffer {
  const parts = mac.split(/[:-]/);
  if (parts.length < 1 || parts.length > 16 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new DhcpEncodeError(`expected a MAC address like 'dc:a6:32:01:36:c2', got '${mac}'`);
  }
  const out = Buffer.alloc(16);
  parts.forEach((p, i) => {
    out[i] = Number.parseInt(p, 16);
  });
  return out;
}

/** RFC 2131 §2: the BROADCAST bit is the leftmost bit of `flags`. */
export const BROADCAST_FLAG = 0x8000;
