/**
 * Engine selection: the native pump when it is built (project 'native'), the TypeScript sender when it is
 * disabled (project 'js' sets BRAMBLE_TFTP_NATIVE=0), and a clear error when 'native' is demanded but missing.
 * Both engines must move the same bytes and report the same stats for the same transfer.
 */
import { describe, expect, it } from 'vitest';
import { createServer, fetchFile, nativePumpStatus, TftpConfigError } from '../src/index.js';
import { ENGINE } from './helpers.js';

const FILE = Buffer.alloc(100_000, 0).map((_, i) => (i * 7919) % 251);

describe(`engine selection (${ENGINE})`, () => {
  it('reports whether the native pump is available, and why not', () => {
    const st = nativePumpStatus();
    if (ENGINE === 'native') {
      // In the workspace the x64/arm64 platform package is linked and built: it is loaded first.
      expect(st).toMatchObject({ available: true, engine: 'native' });
      expect(st.reason).toBe(`native pump loaded from ${st.source}`);
    } else {
      expect(st).toMatchObject({ available: false, engine: 'js' });
      expect(st.reason).toMatch(/^the TypeScript sender runs: disabled by BRAMBLE_TFTP_NATIVE=0/);
    }
  });

  it("'auto' picks the pump when available, 'js' always the TypeScript sender", () => {
    const handler = () => FILE;
    expect(createServer({ handler }).engine).toBe(ENGINE);
    expect(createServer({ handler, engine: 'js' }).engine).toBe('js');
  });

  it("'native' without the pump is a TftpConfigError (INVALID_OPTIONS), not a silent fallback", () => {
    const make = () => createServer({ handler: () => FILE, engine: 'native' });
    if (ENGINE === 'native') expect(make().engine).toBe('native');
    else {
      expect(make).toThrow(TftpConfigError);
      try {
        make();
      } catch (e) {
        expect((e as TftpConfigError).code).toBe('INVALID_OPTIONS');
        expect((e as Error).message).toMatch(/native/);
      }
    }
  });

  it("single-port mode runs on the TypeScript sender: 'auto' picks js, 'native' is refused", () => {
    expect(createServer({ handler: () => FILE, singlePort: true }).engine).toBe('js');
    expect(() => createServer({ handler: () => FILE, singlePort: true, engine: 'native' })).toThrow(
      /per-transfer ports/,
    );
  });

  it('pumpThreads outside 1..16 is refused', () => {
    for (const pumpThreads of [0, 17, 1.5])
      expect(() => createServer({ handler: () => FILE, pumpThreads })).toThrow(TftpConfigError);
  });

  it('the chosen engine serves the file byte-identical with the stats the event reports', async () => {
    const server = createServer({ handler: () => FILE });
    const complete = new Promise<{ bytes: number; blocks: number; retransmits: number }>((r) =>
      server.once('complete', r),
    );
    const { port } = await server.listen({ address: '127.0.0.1', port: 0 });
    try {
      for (const windowsize of [1, 8]) {
        const { data } = await fetchFile('127.0.0.1', 'f', { port, blksize: 1000, windowsize });
        expect(Buffer.compare(data, FILE)).toBe(0);
      }
      const ev = await complete;
      expect(ev.bytes).toBe(FILE.length);
      expect(ev.blocks).toBe(101); // 100 full blocks of 1000 and the empty block that ends the transfer
      expect(ev.retransmits).toBe(0);
    } finally {
      await server.close();
    }
  });
});
