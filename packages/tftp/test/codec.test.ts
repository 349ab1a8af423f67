/** Codec, negotiation, netascii, block numbering and remap: pure units, with fast-check round trips. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wireBlock } from '../src/block.js';
import {
  acceptOack,
  compileRemap,
  decode,
  encode,
  encodingLength,
  fromNetascii,
  NetasciiDecoder,
  negotiateServer,
  type Packet,
  TftpPacketError,
  toNetascii,
} from '../src/index.js';

const str = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0'));
const optName = fc.stringMatching(/^[a-z][a-z0-9]{0,11}$/);
const opts = fc.dictionary(optName, str, { maxKeys: 6 });
const packet: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({
    op: fc.constantFrom(1 as const, 2 as const),
    filename: str,
    mode: fc.constantFrom('octet', 'netascii'),
    options: opts,
  }),
  fc.record({
    op: fc.constant(3 as const),
    block: fc.integer({ min: 0, max: 65535 }),
    data: fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u)),
  }),
  fc.record({ op: fc.constant(4 as const), block: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({
    op: fc.constant(5 as const),
    code: fc.integer({ min: 0, max: 8 }),
    message: fc.string({ maxLength: 60 }).filter((s) => !s.includes('\0')),
  }),
  fc.record({ op: fc.constant(6 as const), options: opts }),
);

describe('packet codec (RFC 1350 §5, RFC 2347 §2)', () => {
  it('decode(encode(p)) == p and encodingLength == encode(p).length', () => {
    fc.assert(
      fc.property(packet, (p) => {
        const buf = encode(p);
        expect(buf.length).toBe(encodingLength(p));
        expect(decode(buf)).toEqual(p);
      }),
      { numRuns: 3000 },
    );
  });

  it('malformed input only ever throws TftpPacketError (code MALFORMED)', () => {
    const cases: Buffer[] = [
      Buffer.from([]),
      Buffer.from([0]),
      Buffer.from([0, 9]),
      Buffer.from([0, 1, 0x61]), // filename without NUL
      Buffer.from([0, 1, 0x61, 0]), // no mode
      Buffer.from([0, 1, 0, 0x6f, 0]), // empty filename
      Buffer.from([0, 1, 0x61, 0, 0x6f, 0, 0x62, 0]), // option without value
      Buffer.from([0, 3, 0]),
      Buffer.from([0, 4, 1]),
      Buffer.concat([Buffer.from([0, 1]), Buffer.from('a\0octet\0'), Buffer.from('x\0y\0'.repeat(100))]),
      Buffer.alloc(5000, 1).fill(0, 0, 1),
    ];
    for (const c of cases) {
      const e = (() => {
        try {
          decode(c);
          return undefined;
        } catch (x) {
          return x;
        }
      })();
      expect(e, c.toString('hex').slice(0, 40)).toBeInstanceOf(TftpPacketError);
      expect((e as TftpPacketError).code).toBe('MALFORMED');
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (u) => {
        try {
          decode(u);
        } catch (x) {
          expect(x).toBeInstanceOf(TftpPacketError);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('option names are case-insensitive; the first duplicate wins', () => {
    const b = Buffer.from('\0\x01f\0OcTeT\0BLKSIZE\x001024\0blksize\x00512\0', 'latin1');
    expect(decode(b)).toEqual({ op: 1, filename: 'f', mode: 'octet', options: { blksize: '1024' } });
  });
});

describe('negotiation', () => {
  const limits = { blksizeMax: 1468, windowsizeMax: 16 };
  it('clamps blksize (RFC 2348) and windowsize (RFC 7440), answers tsize (RFC 2349), ignores the rest', () => {
    const n = negotiateServer(
      { blksize: '65464', windowsize: '64', tsize: '0', timeout: '300', x: '1' },
      { write: false, octet: true, size: 42, limits },
    );
    expect(n.oack).toEqual({ blksize: '1468', windowsize: '16', tsize: '42' });
    expect(n.blksize).toBe(1468);
    expect(n.windowsize).toBe(16);
  });
  it('no tsize when the size is unknown or in netascii; WRQ echoes the client size', () => {
    expect(
      negotiateServer({ tsize: '0' }, { write: false, octet: true, size: undefined, limits }).oack,
    ).toEqual({});
    expect(negotiateServer({ tsize: '0' }, { write: false, octet: false, size: 5, limits }).oack).toEqual({});
    expect(
      negotiateServer({ tsize: '77' }, { write: true, octet: true, size: undefined, limits }).oack,
    ).toEqual({ tsize: '77' });
  });
  it('client rejects OACK options it did not request or values above its request', () => {
    expect(() => acceptOack({ blksize: '512' }, { tsize: '5' })).toThrowError(/not requested/);
    expect(() => acceptOack({ blksize: '512' }, { blksize: '1024' })).toThrowError(/blksize/);
    expect(
      acceptOack({ blksize: '1468', windowsize: '8' }, { blksize: '1024', windowsize: '4' }),
    ).toMatchObject({ blksize: 1024, windowsize: 4 });
  });
});

describe('netascii', () => {
  it('LF ⇄ CR LF and CR ⇄ CR NUL round-trip, also split at every position', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (u, cut) => {
        const wire = toNetascii(u);
        expect(fromNetascii(wire).equals(Buffer.from(u))).toBe(true);
        const at = wire.length === 0 ? 0 : cut % wire.length;
        const d = new NetasciiDecoder();
        const out = Buffer.concat([d.write(wire.subarray(0, at)), d.write(wire.subarray(at)), d.end()]);
        expect(out.equals(Buffer.from(u))).toBe(true);
      }),
      { numRuns: 2000 },
    );
    expect(toNetascii(Buffer.from('a\nb\rc')).toString('latin1')).toBe('a\r\nb\r\0c');
  });
});

describe('block numbers', () => {
  it('wrap to 0 or to 1 after 65535', () => {
    expect(wireBlock(65535, 0)).toBe(65535);
    expect(wireBlock(65536, 0)).toBe(0);
    expect(wireBlock(65537, 0)).toBe(1);
    expect(wireBlock(65536, 1)).toBe(1);
    expect(wireBlock(65536 + 65534, 1)).toBe(65535);
    expect(wireBlock(65536 + 65535, 1)).toBe(1);
  });
});

describe('remap rules', () => {
  it('apply in order with stop, deny, direction and {ip}', () => {
    const m = compileRemap([
      { match: '^/', replace: '' },
      { match: 'upload/', action: 'deny', direction: 'read' },
      { match: '^(.*)\\.CFG$', replace: '$1.cfg', ignoreCase: false, stop: true },
      { match: 'never', replace: 'x' },
      { match: '^host$', replace: 'hosts/{ip}' },
    ]);
    expect(m('/boot/a.CFG', { remoteAddress: '10.0.0.1', write: false })).toEqual({
      file: 'boot/a.cfg',
      denied: false,
    });
    expect(m('upload/x', { remoteAddress: '10.0.0.1', write: false }).denied).toBe(true);
    expect(m('upload/x', { remoteAddress: '10.0.0.1', write: true }).denied).toBe(false);
    expect(m('host', { remoteAddress: '10.0.0.1', write: false }).file).toBe('hosts/10.0.0.1');
    expect(() => compileRemap([{ match: '(', replace: '' }])).toThrowError(/invalid regular expression/);
  });
});
