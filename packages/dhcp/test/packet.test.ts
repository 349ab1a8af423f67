import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DhcpDecodeError,
  DhcpEncodeError,
  type DhcpMessage,
  decodeMessage,
  emptyMessage,
  encodeMessage,
  encodingLength,
  macOf,
} from '../src/index.js';
import { arbMessage } from './helpers/arbitraries.js';

describe('codec round trip (RFC 2131 §2)', () => {
  it('decode(encode(x)) equals x and encodingLength matches', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const bytes = encodeMessage(m);
        expect(encodingLength(m)).toBe(bytes.length);
        expect(decodeMessage(bytes)).toEqual(m);
      }),
      { numRuns: 400 },
    );
  });

  it('overloads into file and sname when a maxLength is given, and decodes back (RFC 2132 §9.3)', () => {
    fc.assert(
      fc.property(arbMessage, fc.integer({ min: 260, max: 700 }), (m, max) => {
        m.sname = '';
        m.file = '';
        let bytes: Buffer;
        try {
          bytes = encodeMessage(m, { maxLength: max });
        } catch (e) {
          expect(e).toBeInstanceOf(DhcpEncodeError);
          return;
        }
        expect(bytes.length).toBeLessThanOrEqual(max);
        expect(encodingLength(m, { maxLength: max })).toBe(bytes.length);
        expect(decodeMessage(bytes)).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it('uses option 52 when the options exceed maxLength', () => {
    const m = emptyMessage(2);
    m.options.set(53, Buffer.from([2]));
    m.options.set(43, Buffer.alloc(400, 1));
    m.options.set(66, Buffer.from('10.0.0.1'));
    const bytes = encodeMessage(m, { maxLength: 576 });
    expect(bytes.length).toBeLessThanOrEqual(576);
    expect([...bytes.subarray(240, 243)]).toEqual([52, 1, 1]); // file used
    expect(bytes[108]).not.toBe(0);
    const back = decodeMessage(bytes);
    expect(back).toEqual(m);
    expect(encodeMessage(back).equals(bytes)).toBe(true);
  });

  it('splits options longer than 255 bytes into consecutive instances and joins them (RFC 3396)', () => {
    const m = emptyMessage(2);
    const long = Buffer.alloc(600, 7);
    m.options.set(43, long);
    const bytes = encodeMessage(m);
    // 240 header+cookie, then 43/255, 43/255, 43/90, END
    expect([
      bytes[240],
      bytes[241],
      bytes[240 + 257],
      bytes[240 + 258],
      bytes[240 + 514],
      bytes[240 + 515],
    ]).toEqual([43, 255, 43, 255, 43, 90]);
    expect(bytes.at(-1)).toBe(255);
    expect(decodeMessage(bytes).options.get(43)).toEqual(long);
  });

  it('merges options found in file and sname (order: options, file, sname) and hides option 52', () => {
    const b = Buffer.alloc(300);
    b[0] = 2;
    b[1] = 1;
    b[2] = 6;
    b.writeUInt32BE(0x63825363, 236);
    // options field: 53=5, 52=3, 12="ab", END
    Buffer.from([53, 1, 5, 52, 1, 3, 12, 2, 0x61, 0x62, 255]).copy(b, 240);
    // file: 12 continues with "cd", 66 "x", END ; sname: 12 "ef", END
    Buffer.from([12, 2, 0x63, 0x64, 66, 1, 0x78, 255]).copy(b, 108);
    Buffer.from([12, 2, 0x65, 0x66, 255]).copy(b, 44);
    const m = decodeMessage(b);
    expect([...m.options.keys()]).toEqual([53, 12, 66]);
    expect(m.options.get(12)?.toString()).toBe('abcdef');
    expect(m.file).toBe('');
    expect(m.sname).toBe('');
    expect(encodeMessage(m).equals(b)).toBe(true);
  });

  it('re-encodes a decoded packet byte for byte (PADs, split options, bytes after END)', () => {
    const b = Buffer.alloc(320);
    b[0] = 1;
    b[1] = 1;
    b[2] = 6;
    b.writeUInt32BE(0x26f30339, 4);
    b.write('junk\0after-nul', 44, 'latin1');
    b.writeUInt32BE(0x63825363, 236);
    Buffer.from([0, 0, 53, 1, 1, 61, 2, 1, 2, 0, 61, 1, 3, 200, 0, 255, 9, 9, 9]).copy(b, 240);
    const m = decodeMessage(b);
    expect(m.sname).toBe('junk');
    expect(m.options.get(61)).toEqual(Buffer.from([1, 2, 3]));
    expect(m.options.get(200)).toEqual(Buffer.alloc(0));
    expect(encodeMessage(m).equals(b)).toBe(true);
    // A changed message falls back to the canonical layout.
    m.xid = 1;
    m.options.set(61, Buffer.from([9]));
    const again = decodeMessage(encodeMessage(m));
    expect(again.options.get(61)).toEqual(Buffer.from([9]));
    expect(again.sname).toBe('junk');
  });

  it('reports malformed packets with typed errors', () => {
    const codes = (b: Buffer) => {
      try {
        decodeMessage(b);
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(DhcpDecodeError);
        return (e as DhcpDecodeError).code;
      }
    };
    expect(codes(Buffer.alloc(100))).toBe('TRUNCATED');
    const noCookie = Buffer.alloc(300);
    noCookie[0] = 1;
    expect(codes(noCookie)).toBe('BAD_COOKIE');
    const good = encodeMessage(emptyMessage(1));
    const badOp = Buffer.from(good);
    badOp[0] = 3;
    expect(codes(badOp)).toBe('MALFORMED');
    const overrun = Buffer.concat([good.subarray(0, 240), Buffer.from([12, 10, 1, 2])]);
    expect(codes(overrun)).toBe('MALFORMED');
    const badOverload = Buffer.concat([good.subarray(0, 240), Buffer.from([52, 1, 7, 255])]);
    expect(codes(badOverload)).toBe('MALFORMED');
    expect(codes(undefined as unknown as Buffer)).toBe('MALFORMED');
    const noEnd = Buffer.concat([good.subarray(0, 240), Buffer.from([53, 1, 1])]);
    expect(codes(noEnd)).toBe('ok');
  });

  it('rejects unencodable messages with DhcpEncodeError', () => {
    const bad: Array<(m: DhcpMessage) => void> = [
      (m) => {
        m.ciaddr = '1.2.3';
      },
      (m) => {
        m.chaddr = Buffer.alloc(6);
      },
      (m) => {
        m.xid = -1;
      },
      (m) => {
        m.options.set(255, Buffer.alloc(1));
      },
      (m) => {
        m.file = 'x'.repeat(129);
      },
      (m) => {
        m.sname = '\u2603';
      },
    ];
    for (const mutate of bad) {
      const m = emptyMessage(1);
      mutate(m);
      expect(() => encodeMessage(m)).toThrow(DhcpEncodeError);
    }
  });

  it('formats the MAC from chaddr', () => {
    const m = emptyMessage(1);
    Buffer.from([0xdc, 0xa6, 0x32, 0x01, 0x36, 0xc2]).copy(m.chaddr);
    expect(macOf(m)).toBe('dc:a6:32:01:36:c2');
  });
});
