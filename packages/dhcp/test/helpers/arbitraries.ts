import fc from 'fast-check';
import type { DhcpMessage } from '../../src/index.js';

const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const latin1 = (max: number) =>
  fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: max }).map((cs) => String.fromCharCode(...cs));
const optionCode = fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52);

/** Arbitrary DHCP messages (options unique by code, values up to 600 bytes to exercise RFC 3396). */
export const arbMessage: fc.Arbitrary<DhcpMessage> = fc
  .record({
    op: fc.constantFrom(1 as const, 2 as const),
    htype: fc.nat(255),
    hlen: fc.nat(255),
    hops: fc.nat(255),
    xid: fc.nat(0xffffffff),
    secs: fc.nat(0xffff),
    flags: fc.nat(0xffff),
    ciaddr: ip,
    yiaddr: ip,
    siaddr: ip,
    giaddr: ip,
    chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
    sname: latin1(64),
    file: latin1(128),
    options: fc.uniqueArray(
      fc.tuple(
        optionCode,
        fc.oneof(
          { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
          { weight: 1, arbitrary: fc.uint8Array({ minLength: 250, maxLength: 600 }) },
        ),
      ),
      { selector: (t) => t[0], maxLength: 12 },
    ),
  })
  .map((r) => ({ ...r, options: new Map(r.options.map(([c, v]) => [c, Buffer.from(v)])) }));
