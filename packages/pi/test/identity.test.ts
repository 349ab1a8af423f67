import { describe, expect, it } from 'vitest';
import {
  definedOnly,
  ipv4InSubnet,
  ipv4ToNumber,
  isRaspberryPiMac,
  macDirName,
  netmaskToPrefix,
  normaliseMac,
  normaliseSerial,
  numberToIPv4,
  PiError,
  parseIPv4Cidr,
  parseTftpPath,
  SerialSchema,
  tftpDirName,
} from '../src/index.js';

describe('normaliseSerial: the firmware rule (last 8 hex digits of /proc/cpuinfo Serial)', () => {
  it('accepts the 8-digit directory form and the 16-digit cpuinfo form, any case, 0x', () => {
    expect(normaliseSerial('0660CD37')).toBe('0660cd37');
    expect(normaliseSerial('10000000abcd1234')).toBe('abcd1234');
    expect(normaliseSerial('00000000abcd1234')).toBe('abcd1234');
    expect(normaliseSerial(' 0x7A1B2C3D ')).toBe('7a1b2c3d');
  });

  it('takes the last 8 digits of any 16-digit Serial (a Pi 5 has no 10000000 prefix)', () => {
    // boot-tree used to reject this; the firmware uses `cut -c 9-16` whatever the first half is.
    expect(normaliseSerial('6c2b7d1e9ffefdef')).toBe('9ffefdef');
  });

  it('rejects other lengths (virtual-pi used to zero-pad "abc"), with one message everywhere', () => {
    for (const bad of ['abc', '1234567', '123456789', 'zzzzzzzz', '', '10000000abcd12345']) {
      expect(() => normaliseSerial(bad)).toThrow(PiError);
    }
    try {
      normaliseSerial('abc');
    } catch (error) {
      expect((error as PiError).code).toBe('INVALID_SERIAL');
      expect((error as PiError).message).toBe(
        "serial 'abc' is not 8 hex digits as in the Pi's TFTP directory (e.g. 7a1b2c3d), or the 16-digit Serial from /proc/cpuinfo (its last 8 are used)",
      );
    }
    const parsed = SerialSchema.safeParse('abc');
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toContain('16-digit Serial from /proc/cpuinfo');
  });
});

describe('normaliseMac', () => {
  it('accepts colon, dash, Cisco-dot and bare spellings', () => {
    for (const spelling of ['DC:A6:32:01:36:C2', 'dc-a6-32-01-36-c2', 'dca6.3201.36c2', 'dca6320136c2']) {
      expect(normaliseMac(spelling)).toBe('dc:a6:32:01:36:c2');
    }
    expect(macDirName('DC:A6:32:01:36:C2')).toBe('dc-a6-32-01-36-c2');
  });

  it('rejects odd spellings virtual-pi used to accept (stray separators)', () => {
    for (const bad of [
      'dc:a6:32:01:36',
      'd:c:a:6:3:2:0:1:3:6:c:2',
      'dc::a6:32:01:36:c2:',
      'gg:a6:32:01:36:c2',
    ]) {
      expect(() => normaliseMac(bad)).toThrow(/not 6 hex octets/);
    }
  });

  it('knows the Raspberry Pi OUIs', () => {
    expect(isRaspberryPiMac('b8:27:eb:12:34:56')).toBe(true);
    expect(isRaspberryPiMac('2C-CF-67-00-00-01')).toBe(true);
    expect(isRaspberryPiMac('00:11:22:33:44:55')).toBe(false);
    expect(isRaspberryPiMac('not a mac')).toBe(false);
  });
});

describe('IPv4', () => {
  it('parses dotted quads and rejects leading zeros and out-of-range octets', () => {
    expect(ipv4ToNumber('10.0.0.1')).toBe(0x0a000001);
    expect(numberToIPv4(0xc0a80101)).toBe('192.168.1.1');
    for (const bad of ['256.0.0.1', '010.0.0.1', '1.2.3', '1.2.3.4.5', ' 1.2.3.4']) {
      expect(() => ipv4ToNumber(bad)).toThrow(PiError);
    }
  });

  it('computes subnets from CIDR (the CLI used to compute them by hand)', () => {
    expect(parseIPv4Cidr('192.168.1.7/24')).toEqual({
      network: '192.168.1.0',
      netmask: '255.255.255.0',
      prefix: 24,
    });
    expect(parseIPv4Cidr('10.1.2.3/0').netmask).toBe('0.0.0.0');
    expect(() => parseIPv4Cidr('10.0.0.0/33')).toThrow(PiError);
    expect(() => parseIPv4Cidr('10.0.0.0/x')).toThrow(PiError);
    expect(netmaskToPrefix('255.255.240.0')).toBe(20);
    expect(() => netmaskToPrefix('255.0.255.0')).toThrow(/not contiguous/);
    expect(ipv4InSubnet('192.168.1.200', '192.168.1.0', '255.255.255.0')).toBe(true);
    expect(ipv4InSubnet('192.168.2.1', '192.168.1.0', '255.255.255.0')).toBe(false);
  });
});

describe('tftpDirName and parseTftpPath: one name, both directions', () => {
  it('names a node by serial by default and by MAC with tftpPrefix mac or without a serial', () => {
    expect(tftpDirName({ serial: '10000000D9780558', mac: 'dc:a6:32:01:36:c2' })).toBe('d9780558');
    expect(tftpDirName({ serial: 'd9780558', mac: 'DC:A6:32:01:36:C2', tftpPrefix: 'mac' })).toBe(
      'dc-a6-32-01-36-c2',
    );
    expect(tftpDirName({ mac: 'b8:27:eb:00:00:01' })).toBe('b8-27-eb-00-00-01');
    expect(() => tftpDirName({ serial: 'd9780558', tftpPrefix: 'mac' })).toThrow(PiError);
    expect(() => tftpDirName({})).toThrow(/needs a mac/);
  });

  it('parses back what tftpDirName writes', () => {
    const bySerial = tftpDirName({ serial: '7a1b2c3d' });
    expect(parseTftpPath(`${bySerial}/start4.elf`)).toEqual({
      prefix: { kind: 'serial', serial: '7a1b2c3d' },
      rest: 'start4.elf',
    });
    const byMac = tftpDirName({ mac: 'dc:a6:32:01:36:c2' });
    expect(parseTftpPath(`/${byMac}/config.txt`)).toEqual({
      prefix: { kind: 'mac', mac: 'dc:a6:32:01:36:c2' },
      rest: 'config.txt',
    });
    expect(parseTftpPath('bootcode.bin')).toEqual({ rest: 'bootcode.bin' });
    expect(parseTftpPath('overlays/x.dtbo')).toEqual({ rest: 'overlays/x.dtbo' });
  });
});

describe('definedOnly', () => {
  it('drops undefined keys and keeps falsy values', () => {
    const mac: string | undefined = undefined;
    const out = definedOnly({ a: 1, mac, zero: 0, empty: '', no: false, nil: null });
    expect(out).toEqual({ a: 1, zero: 0, empty: '', no: false, nil: null });
    expect('mac' in out).toBe(false);
  });
});
