import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DhcpDecodeError,
  decodePxeVendorOptions,
  emptyMessage,
  encodePxeVendorOptions,
  getOption,
  OptionCode,
  type OptionCodec,
  Options,
  optionCodec,
  optionName,
  setOption,
} from '../src/index.js';

const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const text = fc
  .array(fc.integer({ min: 1, max: 255 }), { maxLength: 60 })
  .map((c) => String.fromCharCode(...c));
const bytes = (min: number, max: number) =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));

function roundTrip<T>(codec: OptionCodec<T>, arb: fc.Arbitrary<T>) {
  fc.assert(
    fc.property(arb, (v) => {
      const m = emptyMessage(1);
      setOption(m, codec, v);
      expect(getOption(m, codec)).toEqual(v);
    }),
    { numRuns: 100 },
  );
}

describe('typed option registry', () => {
  it('covers the required codes', () => {
    for (const c of [
      1, 3, 6, 12, 15, 28, 43, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 66, 67, 77, 82, 93, 94, 97,
    ]) {
      expect(optionCodec(c), `option ${c}`).toBeDefined();
    }
    expect(optionName(OptionCode.TFTP_SERVER_NAME)).toBe('tftp-server-name');
    expect(optionName(224)).toBe('option-224');
  });

  it('round-trips every typed codec', () => {
    roundTrip(Options.subnetMask, ip);
    roundTrip(Options.router, fc.array(ip, { minLength: 1, maxLength: 5 }));
    roundTrip(Options.domainNameServer, fc.array(ip, { minLength: 1, maxLength: 5 }));
    roundTrip(Options.hostName, text);
    roundTrip(Options.domainName, text);
    roundTrip(Options.broadcastAddress, ip);
    roundTrip(Options.vendorSpecific, bytes(0, 40));
    roundTrip(Options.requestedAddress, ip);
    roundTrip(Options.leaseTime, fc.nat(0xffffffff));
    roundTrip(Options.overload, fc.integer({ min: 1, max: 3 }));
    roundTrip(Options.messageType, fc.integer({ min: 1, max: 8 }));
    roundTrip(Options.serverId, ip);
    roundTrip(Options.parameterList, fc.array(fc.nat(255)));
    roundTrip(Options.message, text);
    roundTrip(Options.maxMessageSize, fc.integer({ min: 576, max: 0xffff }));
    roundTrip(Options.renewalTime, fc.nat(0xffffffff));
    roundTrip(Options.rebindingTime, fc.nat(0xffffffff));
    roundTrip(Options.vendorClassId, text);
    roundTrip(Options.clientId, fc.record({ type: fc.nat(255), id: bytes(1, 20) }));
    roundTrip(Options.tftpServerName, text);
    roundTrip(Options.bootfileName, text);
    roundTrip(Options.userClass, fc.array(bytes(1, 20), { maxLength: 4 }));
    roundTrip(
      Options.relayAgentInfo,
      fc.uniqueArray(fc.tuple(fc.nat(255), bytes(0, 20)), { selector: (t) => t[0] }).map((a) => new Map(a)),
    );
    roundTrip(Options.clientArch, fc.array(fc.nat(0xffff), { minLength: 1, maxLength: 4 }));
    roundTrip(Options.clientNdi, fc.record({ type: fc.nat(255), major: fc.nat(255), minor: fc.nat(255) }));
    roundTrip(Options.clientUuid, fc.record({ type: fc.nat(255), guid: bytes(16, 16) }));
  });

  it('strips trailing NULs from text (RFC 2132 §2) and writes none', () => {
    expect(Options.tftpServerName.decode(Buffer.from('10.0.0.1\0'))).toBe('10.0.0.1');
    expect(Options.tftpServerName.encode('10.0.0.1')).toEqual(Buffer.from('10.0.0.1'));
  });

  it('raises BAD_OPTION for wrong lengths', () => {
    const cases: Array<[OptionCodec<unknown>, number[]]> = [
      [Options.subnetMask as OptionCodec<unknown>, [1, 2, 3]],
      [Options.router as OptionCodec<unknown>, [1, 2, 3, 4, 5]],
      [Options.leaseTime as OptionCodec<unknown>, [1]],
      [Options.clientUuid as OptionCodec<unknown>, [0, 1]],
      [Options.clientNdi as OptionCodec<unknown>, [1, 2]],
      [Options.clientArch as OptionCodec<unknown>, [1]],
      [Options.userClass as OptionCodec<unknown>, [5, 1]],
      [Options.relayAgentInfo as OptionCodec<unknown>, [1, 9, 0]],
      [Options.clientId as OptionCodec<unknown>, [1]],
    ];
    for (const [codec, data] of cases) {
      try {
        codec.decode(Buffer.from(data));
        expect.unreachable(`${codec.name} accepted ${data}`);
      } catch (e) {
        expect(e).toBeInstanceOf(DhcpDecodeError);
        expect((e as DhcpDecodeError).code).toBe('BAD_OPTION');
      }
    }
  });
});

describe('PXE vendor options (option 43)', () => {
  it('round-trips sub-options 6, 8, 9, 10, 71 and unknown ones', () => {
    const desc = fc
      .array(fc.integer({ min: 32, max: 126 }), { maxLength: 30 })
      .map((c) => String.fromCharCode(...c));
    fc.assert(
      fc.property(
        fc.record(
          {
            discoveryControl: fc.nat(255),
            bootServers: fc.array(
              fc.record({ type: fc.nat(0xffff), addresses: fc.array(ip, { maxLength: 3 }) }),
              {
                maxLength: 3,
              },
            ),
            bootMenu: fc.array(fc.record({ type: fc.nat(0xffff), description: desc }), { maxLength: 3 }),
            menuPrompt: fc.record({ timeout: fc.nat(255), prompt: desc }),
            bootItem: fc.record({ type: fc.nat(0xffff), layer: fc.nat(0xffff) }),
            other: fc
              .uniqueArray(
                fc.tuple(
                  fc.integer({ min: 1, max: 254 }).filter((c) => ![6, 8, 9, 10, 71].includes(c)),
                  bytes(0, 10),
                ),
                { selector: (t) => t[0], maxLength: 3 },
              )
              .map((a) => new Map(a)),
          },
          { requiredKeys: [] },
        ),
        (o) => {
          const enc = encodePxeVendorOptions(o);
          expect(enc.at(-1)).toBe(255);
          const dec = decodePxeVendorOptions(enc);
          const want = { ...o };
          if (want.other?.size === 0) delete want.other;
          expect(dec).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes the dnsmasq bytes from the Raspberry Pi documentation capture', () => {
    const wire = Buffer.from([
      6, 1, 3, 10, 4, 0, 80, 88, 69, 9, 20, 0, 0, 17, 82, 97, 115, 112, 98, 101, 114, 114, 121, 32, 80, 105,
      32, 66, 111, 111, 116, 255,
    ]);
    expect(decodePxeVendorOptions(wire)).toEqual({
      discoveryControl: 3,
      menuPrompt: { timeout: 0, prompt: 'PXE' },
      bootMenu: [{ type: 0, description: 'Raspberry Pi Boot' }],
    });
    expect(encodePxeVendorOptions(decodePxeVendorOptions(wire))).toEqual(wire);
  });

  it('rejects truncated sub-options with BAD_OPTION', () => {
    for (const bad of [
      [9, 5, 0, 0, 9, 65],
      [6, 2, 3, 3],
      [71, 1, 0],
      [8, 3, 0, 0, 2],
    ]) {
      expect(() => decodePxeVendorOptions(Buffer.from(bad))).toThrow(DhcpDecodeError);
    }
  });
});
