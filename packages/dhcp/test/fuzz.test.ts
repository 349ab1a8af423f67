import { describe, expect, it } from 'vitest';
import {
  buildClientMessage,
  DhcpDecodeError,
  decodeMessage,
  encodeMessage,
  raspberryPiBootOptions,
} from '../src/index.js';

/** Small deterministic PRNG (xorshift32) so a failure can be reproduced from the seed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

function seeds(): Buffer[] {
  const out: Buffer[] = [];
  for (const kind of ['pi3b', 'pi3b+', 'pi4', 'pi5', 'pxe-pc'] as const) {
    out.push(
      encodeMessage(
        buildClientMessage({ kind, type: 'discover', mac: 'dc:a6:32:01:36:c2', serial: '9ffefdef' }),
      ),
    );
  }
  const reply = buildClientMessage({
    kind: 'pi4',
    type: 'discover',
    mac: 'dc:a6:32:01:36:c2',
    serial: '00000001',
  });
  reply.op = 2;
  for (const [k, v] of raspberryPiBootOptions({ serverAddress: '10.0.0.1' }).options) reply.options.set(k, v);
  out.push(encodeMessage(reply), encodeMessage(reply, { maxLength: 300 }));
  return out;
}

describe('decoder fuzz (100k random and mutated packets)', () => {
  it('only ever throws DhcpDecodeError, and what decodes re-encodes byte for byte', () => {
    const rand = rng(0xb4a3b1e);
    const base = seeds();
    const counts = { decoded: 0, rejected: 0 };
    for (let i = 0; i < 100_000; i++) {
      let pkt: Buffer;
      if (i % 4 === 0) {
        // random bytes, with a valid op + cookie half of the time to get past the header checks
        pkt = Buffer.alloc(Math.floor(rand() * 600));
        for (let j = 0; j < pkt.length; j++) pkt[j] = Math.floor(rand() * 256);
        if (i % 8 === 0 && pkt.length >= 240) {
          pkt[0] = 1;
          pkt.writeUInt32BE(0x63825363, 236);
        }
      } else {
        const seed = base[i % base.length] as Buffer;
        pkt = Buffer.from(seed);
        const edits = 1 + Math.floor(rand() * 6);
        for (let e = 0; e < edits; e++) {
          const r = rand();
          const at = Math.floor(rand() * pkt.length);
          if (r < 0.6) pkt[at] = Math.floor(rand() * 256);
          else if (r < 0.8) pkt = pkt.subarray(0, at);
          else pkt = Buffer.concat([pkt, Buffer.from([Math.floor(rand() * 256), Math.floor(rand() * 256)])]);
        }
      }
      let decoded: ReturnType<typeof decodeMessage> | undefined;
      try {
        decoded = decodeMessage(pkt);
      } catch (e) {
        if (!(e instanceof DhcpDecodeError))
          throw new Error(`non-typed error for ${pkt.toString('hex')}: ${e}`);
        counts.rejected++;
        continue;
      }
      counts.decoded++;
      const again = encodeMessage(decoded);
      if (!again.equals(pkt)) throw new Error(`re-encode differs for ${pkt.toString('hex')}`);
    }
    expect(counts.decoded).toBeGreaterThan(10_000);
    expect(counts.rejected).toBeGreaterThan(10_000);
  });
});
