/** netasciiSource: streamed conversion with re-reads (retransmitted windows) equals the whole-buffer conversion. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bufferSource, toNetascii } from '../src/index.js';
import { netasciiSource } from '../src/netascii.js';

describe('netasciiSource', () => {
  it('reads, re-reads after a rewind and releases like a sender, byte-identical to toNetascii', async () => {
    const byte = fc.oneof(fc.constant(0x0a), fc.constant(0x0d), fc.integer({ min: 0, max: 255 }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(byte, { maxLength: 3000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        async (bytes, blksize, rewinds) => {
          const input = Buffer.from(bytes);
          const expected = toNetascii(input);
          const source = netasciiSource(bufferSource(input));
          expect(source.size).toBeUndefined();
          const out = Buffer.alloc(expected.length + blksize * 2);
          let released = 0;
          let pos = 0;
          for (let step = 0; step < 10_000; step++) {
            const buf = Buffer.alloc(blksize);
            const n = await source.read(buf, 0, blksize, pos);
            expect(buf.subarray(0, n).equals(expected.subarray(pos, pos + n))).toBe(true);
            buf.copy(out, pos, 0, n);
            if (n < blksize) break;
            const rewind = rewinds[step % Math.max(1, rewinds.length)] ?? 0;
            if (rewinds.length > 0 && rewind % 3 === 0 && pos > released) {
              // A retransmitted window: read again from a block after the last release.
              pos = released + (rewind % Math.max(1, pos - released));
              pos -= pos % blksize;
              continue;
            }
            pos += n;
            if (rewind % 2 === 0) {
              released = pos - (pos % blksize);
              source.release?.(released);
            }
          }
          await source.close();
        },
      ),
      { numRuns: 300 },
    );
  });
});
