import { buildClientMessage, decodeMessage, detectRaspberryPi, encodeMessage, macOf } from '@bramble/dhcp';
import { PI_MODEL_TABLE } from '@bramble/pi';
import { describe, expect, it } from 'vitest';
import { buildDiscover, buildRequest } from '../src/dhcp-messages.js';
import {
  defaultMac,
  MODELS,
  modelSpec,
  SIMULATED_MODELS,
  tftpPrefixFor,
  VirtualPiError,
} from '../src/index.js';
import { judgeOffer } from '../src/offer-rules.js';

const serial = '7a1b2c3d';

describe('model tables', () => {
  it('Pi 3B DISCOVER carries the bytes of the boot-net.adoc capture', () => {
    const spec = MODELS.pi3b;
    const mac = defaultMac(spec.oui, serial);
    const wire = encodeMessage(buildDiscover(spec.dhcp, { serial, mac }, 0x26f30339));
    const m = decodeMessage(wire);
    expect(m.xid).toBe(0x26f30339);
    expect(m.flags).toBe(0);
    expect(macOf(m)).toBe('b8:27:eb:1b:2c:3d');
    expect([...m.options.keys()]).toEqual([53, 55, 93, 94, 97, 60]);
    expect([...m.options.get(55)!]).toEqual([43, 60, 67, 128, 129, 130, 131, 132, 133, 134, 135, 66]);
    expect(m.options.get(93)!.toString('hex')).toBe('0000');
    expect(m.options.get(94)!.toString('hex')).toBe('010201');
    expect(m.options.get(97)!.toString('hex')).toBe(`00${'44'.repeat(16)}`);
    expect(m.options.get(60)!.toString('latin1')).toBe('PXEClient:Arch:00000:UNDI:002001');
  });

  it.each(['pi3b', 'pi3b+', 'pi4', 'pi5'] as const)(
    '%s DISCOVER matches @bramble/dhcp buildClientMessage({ kind: %s }) and is detected as a Pi',
    (model) => {
      const kind = model;
      const spec = MODELS[model];
      const mac = defaultMac(spec.oui, serial);
      const ours = buildDiscover(spec.dhcp, { serial, mac }, 0x12345678);
      const theirs = buildClientMessage({
        kind,
        type: 'discover',
        mac,
        serial,
        xid: 0x12345678,
        boardRevision: spec.boardRevision,
      });
      expect(encodeMessage(ours).equals(encodeMessage(theirs))).toBe(true);
      const seen = detectRaspberryPi(decodeMessage(encodeMessage(ours)));
      expect(seen?.mac).toBe(mac);
      if (model !== 'pi3b') expect(seen?.serial).toBe(serial);
    },
  );

  it('Pi 4 REQUEST has options 50 and 54 and no option 60', () => {
    const spec = MODELS.pi4;
    const m = buildRequest(
      spec.dhcp,
      { serial, mac: defaultMac(spec.oui, serial) },
      1,
      '10.0.0.50',
      '10.0.0.1',
    );
    expect(m.options.get(53)![0]).toBe(3);
    expect(m.options.get(50)!.toString('hex')).toBe('0a000032');
    expect(m.options.get(54)!.toString('hex')).toBe('0a000001');
    expect(m.options.has(60)).toBe(false);
  });

  it('every model has a sequence whose steps name known TFTP profiles', () => {
    for (const model of SIMULATED_MODELS) {
      const spec = MODELS[model];
      expect(spec.sequence.length).toBeGreaterThan(5);
      for (const step of spec.sequence)
        expect(spec.tftp[step.profile], `${model} ${step.profile}`).toBeDefined();
    }
    expect(MODELS.pi3b.sequence[0]).toMatchObject({ file: 'bootcode.bin', profile: 'rom' });
    expect(MODELS.pi3b.tftp.rom?.options).toBe(false);
    expect(MODELS.pi4.tftp.eeprom).toMatchObject({ blksize: 1024, fileTimeoutMs: 30_000 });
    expect(MODELS.pi5.tftp.eeprom?.blksize).toBe(1468);
    expect(MODELS.pi5.sequence.some((s) => s.kind === 'file' && s.file === '{start}')).toBe(false);
  });

  it('TFTP prefixes follow the firmware (serial and MAC rules from @bramble/pi)', () => {
    expect(tftpPrefixFor(MODELS.pi4, 'mac', serial, 'dc:a6:32:01:36:c2')).toBe('dc-a6-32-01-36-c2/');
    expect(tftpPrefixFor(MODELS.pi4, 'tftp_test/', serial, 'dc:a6:32:01:36:c2')).toBe('tftp_test/');
    expect(() => tftpPrefixFor(MODELS.pi3b, 'mac', serial, 'b8:27:eb:01:02:03')).toThrow(/serial/);
  });
});

describe('the @bramble/pi model table drives the simulated models', () => {
  it('takes board facts, option 43 rule and block size from the table', () => {
    for (const model of SIMULATED_MODELS) {
      const info = PI_MODEL_TABLE[model];
      const spec = MODELS[model];
      expect(spec.name).toBe(info.name);
      expect(spec.files.dtb).toBe(info.files.dtb);
      expect(spec.prefixModes).toEqual(info.boot.tftpPrefixes);
      expect(spec.dhcp.option43NeedsTrailingSpaces).toBe(info.boot.option43TrailingSpaces);
    }
    expect(SIMULATED_MODELS).toEqual(['pi3b', 'pi3b+', 'pi4', 'pi400', 'cm4', 'pi5', 'pi500', 'cm5']);
  });

  it('says why a board without Ethernet is not simulated, and names unknown models', () => {
    expect(() => modelSpec('pizero2w')).toThrow(/no on-board Ethernet/);
    expect(() => modelSpec('pi9')).toThrow(VirtualPiError);
    expect(() => modelSpec('pi9')).toThrow(/expected one of pi3b, pi3b\+/);
  });
});

describe('offer acceptance (ROM rules)', () => {
  const offer = (opts: Map<number, Buffer>) => {
    const m = buildDiscover(MODELS.pi4.dhcp, { serial, mac: 'dc:a6:32:1b:2c:3d' }, 1);
    m.op = 2;
    m.options = opts;
    return m;
  };
  const dnsmasq43 = Buffer.from(
    '060103 0a0400505845 0914000011'.replace(/ /g, '') +
      Buffer.from('Raspberry Pi Boot').toString('hex') +
      'ff',
    'hex',
  );
  const spaced43 = Buffer.from(
    '060103 0a0400505845 0917000014'.replace(/ /g, '') +
      Buffer.from('Raspberry Pi Boot   ').toString('hex') +
      'ff',
    'hex',
  );
  const id = Buffer.from([10, 0, 0, 1]);

  it('takes the TFTP server from option 66, else option 54, ignoring siaddr', () => {
    const withBoth = offer(
      new Map([
        [54, id],
        [43, dnsmasq43],
        [66, Buffer.from('10.0.0.9')],
      ]),
    );
    withBoth.siaddr = '10.0.0.77';
    expect(judgeOffer(MODELS.pi4.dhcp, withBoth, '10.0.0.1')).toMatchObject({
      accepted: true,
      tftpServer: '10.0.0.9',
      tftpServerFrom: 'option 66',
    });
    expect(
      judgeOffer(
        MODELS.pi4.dhcp,
        offer(
          new Map([
            [54, id],
            [43, dnsmasq43],
          ]),
        ),
        '10.0.0.1',
      ),
    ).toMatchObject({ tftpServer: '10.0.0.1', tftpServerFrom: 'option 54' });
    expect(
      judgeOffer(
        MODELS.pi4.dhcp,
        offer(
          new Map([
            [43, dnsmasq43],
            [66, Buffer.from('tftp.lan')],
          ]),
        ),
        '10.0.0.1',
      ).accepted,
    ).toBe(false);
  });

  it('rejects offers without "Raspberry Pi Boot"; the Pi 3B needs the trailing spaces', () => {
    expect(judgeOffer(MODELS.pi4.dhcp, offer(new Map([[54, id]])), '10.0.0.1')).toMatchObject({
      accepted: false,
      reason: 'no option 43',
    });
    expect(
      judgeOffer(
        MODELS.pi3b.dhcp,
        offer(
          new Map([
            [54, id],
            [43, dnsmasq43],
          ]),
        ),
        '10.0.0.1',
      ).reason,
    ).toMatch(/trailing spaces/);
    expect(
      judgeOffer(
        MODELS.pi3b.dhcp,
        offer(
          new Map([
            [54, id],
            [43, spaced43],
          ]),
        ),
        '10.0.0.1',
      ).accepted,
    ).toBe(true);
    expect(
      judgeOffer(
        MODELS['pi3b+'].dhcp,
        offer(
          new Map([
            [54, id],
            [43, dnsmasq43],
          ]),
        ),
        '10.0.0.1',
      ).accepted,
    ).toBe(true);
  });
});
