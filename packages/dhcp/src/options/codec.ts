import { DhcpDecodeError, DhcpEncodeError } from '../errors.js';
import { ipv4ToBuffer, readIPv4 } from '../ipv4.js';
import type { DhcpMessage } from '../packet.js';

/** A typed view of one DHCP option: `decode` throws {@link DhcpDecodeError} (code `BAD_OPTION`) on bad lengths. */
export interface OptionCodec<T> {
  readonly code: number;
  readonly name: string;
  encode(value: T): Buffer;
  decode(data: Buffer): T;
}

export function badOption(name: string, code: number, why: string): DhcpDecodeError {
  return new DhcpDecodeError('BAD_OPTION', `option ${code} (${name}): ${why}`);
}

function uint(bytes: 1 | 2 | 4) {
  return (code: number, name: string): OptionCodec<number> => ({
    code,
    name,
    encode(v) {
      if (!Number.isInteger(v) || v < 0 || v >= 2 ** (8 * bytes)) {
        throw new DhcpEncodeError(
          `option ${code} (${name}) must be an unsigned ${8 * bytes}-bit integer, got ${v}`,
        );
      }
      const b = Buffer.alloc(bytes);
      b.writeUIntBE(v, 0, bytes);
      return b;
    },
    decode(d) {
      if (d.length !== bytes) throw badOption(name, code, `expected ${bytes} bytes, got ${d.length}`);
      return d.readUIntBE(0, bytes);
    },
  });
}
export const uint8Option = uint(1);
export const uint16Option = uint(2);
export const uint32Option = uint(4);

export function addressOption(code: number, name: string): OptionCodec<string> {
  return {
    code,
    name,
    encode: (v) => ipv4ToBuffer(v),
    decode(d) {
      if (d.length !== 4) throw badOption(name, code, `expected 4 bytes, got ${d.length}`);
      return readIPv4(d, 0);
    },
  };
}

export function addressListOption(code: number, name: string): OptionCodec<string[]> {
  return {
    code,
    name,
    encode: (v) => Buffer.concat(v.map(ipv4ToBuffer)),
    decode(d) {
      if (d.length === 0 || d.length % 4 !== 0) {
        throw badOption(name, code, `expected a non-empty multiple of 4 bytes, got ${d.length}`);
      }
      const out: string[] = [];
      for (let i = 0; i < d.length; i += 4) out.push(readIPv4(d, i));
      return out;
    },
  };
}

/**
 * NVT ASCII text (kept lossless as latin1). RFC 2132 §2: senders SHOULD NOT add a trailing NUL,
 * receivers MUST be prepared to delete trailing NULs — so decode strips them and encode adds none.
 */
export function textOption(code: number, name: string): OptionCodec<string> {
  return {
    code,
    name,
    encode(v) {
      if (/[^\u0000-\u00ff]/.test(v))
        throw new DhcpEncodeError(`option ${code} (${name}) must be latin1 text`);
      return Buffer.from(v, 'latin1');
    },
    decode(d) {
      let end = d.length;
      while (end > 0 && d[end - 1] === 0) end--;
      return d.subarray(0, end).toString('latin1');
    },
  };
}

export function bytesOption(code: number, name: string): OptionCodec<Buffer> {
  return { code, name, encode: (v) => Buffer.from(v), decode: (d) => Buffer.from(d) };
}

export function uint8ListOption(code: number, name: string): OptionCodec<number[]> {
  return {
    code,
    name,
    encode(v) {
      for (const x of v) {
        if (!Number.isInteger(x) || x < 0 || x > 255) {
          throw new DhcpEncodeError(`option ${code} (${name}) items must be 0..255, got ${x}`);
        }
      }
      return Buffer.from(v);
    },
    decode: (d) => [...d],
  };
}

export function uint16ListOption(code: number, name: string): OptionCodec<number[]> {
  return {
    code,
    name,
    encode(v) {
      const b = Buffer.alloc(v.length * 2);
      v.forEach((x, i) => {
        if (!Number.isInteger(x) || x < 0 || x > 0xffff) {
          throw new DhcpEncodeError(`option ${code} (${name}) items must be 0..65535, got ${x}`);
        }
        b.writeUInt16BE(x, i * 2);
      });
      return b;
    },
    decode(d) {
      if (d.length === 0 || d.length % 2 !== 0) {
        throw badOption(name, code, `expected a non-empty multiple of 2 bytes, got ${d.length}`);
      }
      const out: number[] = [];
      for (let i = 0; i < d.length; i += 2) out.push(d.readUInt16BE(i));
      return out;
    },
  };
}

/** Typed read of an option; `undefined` when absent. Throws {@link DhcpDecodeError} if present but malformed. */
export function getOption<T>(msg: DhcpMessage, codec: OptionCodec<T>): T | undefined {
  const raw = msg.options.get(codec.code);
  return raw === undefined ? undefined : codec.decode(raw);
}

/** Typed write of an option (replaces any previous value, keeping its position). */
export function setOption<T>(msg: DhcpMessage, codec: OptionCodec<T>, value: T): void {
  msg.options.set(codec.code, codec.encode(value));
}
