/**
 * TFTP packet codec: `encode`, `decode` and `encodingLength` mirror each other.
 *
 * RFC 1350 §5 packet layouts (plus RFC 2347 §2 OACK):
 * ```
 *  RRQ/WRQ  | 01/02 | filename | 0 | mode | 0 | opt1 | 0 | value1 | 0 | ...   (RFC 1350 §5, RFC 2347 §2)
 *  DATA     | 03 | block# (2) | data (0..blksize)                               (RFC 1350 §5)
 *  ACK      | 04 | block# (2) |                                                 (RFC 1350 §5)
 *  ERROR    | 05 | code (2)   | message | 0                                     (RFC 1350 §5)
 *  OACK     | 06 | opt1 | 0 | value1 | 0 | ...                                  (RFC 2347 §2)
 * ```
 * Opcodes are 2-byte big-endian; strings are NUL-terminated netascii (decoded here as UTF-8).
 */
import { TftpPacketError } from './errors.js';

export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

export type TransferMode = 'octet' | 'netascii' | 'mail';

export interface RequestPacket {
  op: 1 | 2;
  filename: string;
  /** Lower-cased (RFC 1350 §5: "mode ... in any combination of upper and lower case"). */
  mode: string;
  /** Option names lower-cased (RFC 2347 §2: case-insensitive), in wire order; first occurrence wins. */
  options: Record<string, string>;
}
export interface DataPacket {
  op: 3;
  block: number;
  data: Buffer;
}
export interface AckPacket {
  op: 4;
  block: number;
}
export interface ErrorPacket {
  op: 5;
  code: number;
  message: string;
}
export interface OackPacket {
  op: 6;
  options: Record<string, string>;
}
export type Packet = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

/** Decoder limits: at most this many option pairs in a request/OACK. */
export const MAX_OPTIONS = 64;
/** Requests larger than this are refused (RFC 2347 §2 says 512; clients in the wild send a little more). */
export const MAX_REQUEST_LENGTH = 4096;

function strLen(s: string): number {
  return Buffer.byteLength(s, 'utf8') + 1;
}

function optionsLength(options: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(options)) n += strLen(k) + strLen(v);
  return n;
}

/** Bytes `encode(p)` will produce. */
export function encodingLength(p: Packet): number {
  switch (p.op) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return 2 + strLen(p.filename) + strLen(p.mode) + optionsLength(p.options);
    case Opcode.DATA:
      return 4 + p.data.length;
    case Opcode.ACK:
      return 4;
    case Opcode.ERROR:
      return 4 + strLen(p.message);
    case Opcode.OACK:
      return 2 + optionsLength(p.options);
  }
}

function writeStr(buf: Buffer, off: number, s: string): number {
  if (s.includes('\0')) throw new TftpPacketError(`string ${JSON.stringify(s)} contains a NUL byte`);
  const n = buf.write(s, off, 'utf8');
  buf[off + n] = 0;
  return off + n + 1;
}

function writeOptions(buf: Buffer, off: number, options: Record<string, string>): number {
  let at = off;
  for (const [k, v] of Object.entries(options)) {
    at = writeStr(buf, at, k);
    at = writeStr(buf, at, v);
  }
  return at;
}

/** Encode a packet into a new Buffer (or into `target` at `offset`); returns the bytes written region. */
export function encode(p: Packet, target?: Buffer, offset = 0): Buffer {
  const len = encodingLength(p);
  const buf = target ?? Buffer.allocUnsafe(len);
  if (buf.length - offset < len) throw new TftpPacketError(`target buffer too small: need ${len} bytes`);
  buf.writeUInt16BE(p.op, offset);
  let at = offset + 2;
  switch (p.op) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      at = writeStr(buf, at, p.filename);
      at = writeStr(buf, at, p.mode);
      at = writeOptions(buf, at, p.options);
      break;
    case Opcode.DATA:
      buf.writeUInt16BE(p.block & 0xffff, at);
      p.data.copy(buf, at + 2);
      at += 2 + p.data.length;
      break;
    case Opcode.ACK:
      buf.writeUInt16BE(p.block & 0xffff, at);
      at += 2;
      break;
    case Opcode.ERROR:
      buf.writeUInt16BE(p.code & 0xffff, at);
      at = writeStr(buf, at + 2, p.message);
      break;
    case Opcode.OACK:
      at = writeOptions(buf, at, p.options);
      break;
  }
  return buf.subarray(offset, at);
}

/** Split a NUL-terminated string list; every string must be terminated (RFC 1350 §5). */
function readStrings(buf: Uint8Array, start: number, max: number): string[] {
  const out: string[] = [];
  let s = start;
  while (s < buf.length) {
    const z = buf.indexOf(0, s);
    if (z < 0) throw new TftpPacketError('string is not NUL-terminated');
    if (out.length >= max) throw new TftpPacketError(`more than ${max} strings in packet`);
    out.push(Buffer.from(buf.buffer, buf.byteOffset + s, z - s).toString('utf8'));
    s = z + 1;
  }
  return out;
}

function readOptions(list: string[], from: number): Record<string, string> {
  if ((list.length - from) % 2 !== 0) throw new TftpPacketError('option without a value');
  const options: Record<string, string> = Object.create(null);
  for (let i = from; i < list.length; i += 2) {
    const k = (list[i] ?? '').toLowerCase();
    if (k === '') throw new TftpPacketError('empty option name');
    // RFC 2347 §2: option names are case-insensitive; keep the first of duplicates.
    if (!(k in options)) options[k] = list[i + 1] ?? '';
  }
  return options;
}

/** Opcode of a raw packet, or 0 when it is shorter than 2 bytes. Cheap check for hot paths. */
export function peekOpcode(buf: Uint8Array): number {
  return buf.length >= 2 ? ((buf[0] ?? 0) << 8) | (buf[1] ?? 0) : 0;
}

/** Decode one datagram. Throws `TftpPacketError` (code 'MALFORMED') for anything malformed, never anything else. */
export function decode(input: Uint8Array): Packet {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length);
  if (buf.length < 2) throw new TftpPacketError(`packet of ${buf.length} bytes is too short`);
  const op = buf.readUInt16BE(0);
  switch (op) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      if (buf.length > MAX_REQUEST_LENGTH)
        throw new TftpPacketError(`request of ${buf.length} bytes exceeds ${MAX_REQUEST_LENGTH}`);
      const list = readStrings(buf, 2, 2 + MAX_OPTIONS * 2);
      if (list.length < 2) throw new TftpPacketError('request needs a filename and a mode');
      const filename = list[0] ?? '';
      if (filename === '') throw new TftpPacketError('empty filename');
      return { op, filename, mode: (list[1] ?? '').toLowerCase(), options: readOptions(list, 2) };
    }
    case Opcode.DATA:
      if (buf.length < 4) throw new TftpPacketError('DATA packet shorter than 4 bytes');
      return { op, block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case Opcode.ACK:
      // RFC 1350 §5: ACK is exactly 4 bytes; tolerate trailing padding some stacks add.
      if (buf.length < 4) throw new TftpPacketError('ACK packet shorter than 4 bytes');
      return { op, block: buf.readUInt16BE(2) };
    case Opcode.ERROR: {
      if (buf.length < 4) throw new TftpPacketError('ERROR packet shorter than 4 bytes');
      const code = buf.readUInt16BE(2);
      // Lenient: a missing terminator still yields the message (PyPXE #66 shows unterminated messages in the wild).
      const z = buf.indexOf(0, 4);
      const message = buf.toString('utf8', 4, z < 0 ? buf.length : z);
      return { op, code, message };
    }
    case Opcode.OACK: {
      if (buf.length > MAX_REQUEST_LENGTH) throw new TftpPacketError('OACK too long');
      const list = readStrings(buf, 2, MAX_OPTIONS * 2);
      return { op, options: readOptions(list, 0) };
    }
    default:
      throw new TftpPacketError(`unknown opcode ${op}`);
  }
}

/** Build an ACK in a reusable 4-byte buffer. */
export function writeAck(buf: Buffer, block: number): Buffer {
  buf[0] = 0;
  buf[1] = Opcode.ACK;
  buf[2] = (block >>> 8) & 0xff;
  buf[3] = block & 0xff;
  return buf;
}

/** Encode an ERROR packet (RFC 1350 §5). */
export function errorPacket(code: number, message: string): Buffer {
  return encode({ op: Opcode.ERROR, code, message: message.replace(/\0/g, '') });
}
