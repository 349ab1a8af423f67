import { describe, expect, it } from 'vitest';
import {
  buildClientMessage,
  decodeMessage,
  detectRaspberryPi,
  emptyMessage,
  encodeMessage,
  isPiBootVendorClass,
  PI_VENDOR_CLASS,
  PI3_ROM_XID,
  RASPBERRY_PI_MAC_PREFIXES,
  raspberryPiBootOptions,
} from '../src/index.js';

const RPI_BOOT = Buffer.from('Raspberry Pi Boot', 'latin1');

describe('raspberryPiBootOptions', () => {
  it('gives exactly the option 43 bytes dnsmasq sends for pxe-service=0,"Raspberry Pi Boot"', () => {
    const { options, siaddr } = raspberryPiBootOptions({ serverAddress: '192.168.1.3' });
    const expected = Buffer.concat([
      Buffer.from([0x06, 0x01, 0x03, 0x0a, 0x04, 0x00, 0x50, 0x58, 0x45, 0x09, 0x14, 0x00, 0x00, 0x11]),
      RPI_BOOT,
      Buffer.from([0xff]),
    ]);
    expect(options.get(43)).toEqual(expected);
    expect(options.get(43)?.length).toBe(32);
    expect(options.get(60)?.toString('latin1')).toBe('PXEClient');
    expect(options.get(54)).toEqual(Buffer.from([192, 168, 1, 3]));
    expect(options.get(66)).toEqual(Buffer.from('192.168.1.3', 'latin1')); // no NUL
    expect(siaddr).toBe('192.168.1.3');
  });

  it('adds the three trailing spaces the Pi 3B ROM needs', () => {
    const o43 = raspberryPiBootOptions({ serverAddress: '10.0.0.1', trailingSpaces: true }).options.get(43);
    expect(o43?.subarray(9, 14)).toEqual(Buffer.from([0x09, 0x17, 0x00, 0x00, 0x14]));
    expect(o43?.subarray(14, 34).toString('latin1')).toBe('Raspberry Pi Boot   ');
    expect(o43?.length).toBe(35);
  });
});

describe('detectRaspberryPi', () => {
  it('keeps one MAC prefix list', () => {
    expect(RASPBERRY_PI_MAC_PREFIXES).toEqual(['b8:27:eb', 'dc:a6:32', 'e4:5f:01', 'd8:3a:dd', '2c:cf:67']);
  });

  it('recognises a Pi 3B DISCOVER (constant GUID, ROM xid)', () => {
    const m = decodeMessage(
      encodeMessage(buildClientMessage({ kind: 'pi3b', type: 'discover', mac: 'b8:27:eb:aa:bb:cc' })),
    );
    expect(m.xid).toBe(PI3_ROM_XID);
    expect(m.options.get(60)?.toString()).toBe(PI_VENDOR_CLASS);
    expect(m.options.get(97)).toEqual(Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0x44)]));
    // The constant 16 × 0x44 GUID is the Pi 3B ROM's bug, fixed in the 3B+: the model is exact.
    expect(detectRaspberryPi(m)).toEqual({ model: 'pi3b', mac: 'b8:27:eb:aa:bb:cc' });
  });

  it('reads the serial of a Pi 3B+', () => {
    const m = buildClientMessage({
      kind: 'pi3b+',
      type: 'discover',
      mac: 'b8:27:eb:01:02:03',
      serial: '9ffefdef',
    });
    expect(detectRaspberryPi(m)).toEqual({ model: 'pi3b+', serial: '9ffefdef', mac: 'b8:27:eb:01:02:03' });
  });

  it('reads model, board revision and serial from a Pi 4/5 option 97, even without option 60 (REQUEST)', () => {
    const m = buildClientMessage({
      kind: 'pi4',
      type: 'request',
      mac: 'dc:a6:32:01:36:c2',
      serial: '0660cd37',
      boardRevision: 0xc03111,
      serverId: '10.0.0.2',
      requestedAddress: '10.0.0.50',
    });
    expect(m.options.has(60)).toBe(false);
    expect(m.options.get(97)?.subarray(0, 5)).toEqual(Buffer.from([0x00, 0x52, 0x50, 0x69, 0x34])); // \0 R P i 4
    expect(detectRaspberryPi(m)).toEqual({
      model: 'pi4',
      serial: '0660cd37',
      boardRevision: 0xc03111,
      mac: 'dc:a6:32:01:36:c2',
    });
    const p5 = buildClientMessage({
      kind: 'pi5',
      type: 'discover',
      mac: '2c:cf:67:00:00:01',
      serial: 'e1ffda08',
    });
    expect(detectRaspberryPi(p5)?.model).toBe('pi5');
  });

  it('accepts the byte-reversed FourCC seen in a CM4 capture', () => {
    const m = emptyMessage(1);
    m.options.set(97, Buffer.from('0034695052' + '4131a000' + '01f8deb9' + 'efcdab89', 'hex'));
    // Revision 0xa03141 is a CM4 (type 0x14 in the model table).
    expect(detectRaspberryPi(m)).toMatchObject({ model: 'cm4', boardRevision: 0xa03141, serial: '89abcdef' });
  });

  it('falls back to the MAC prefix only with the boot firmware vendor class, and ignores non-Pi PXE clients', () => {
    const byMac = emptyMessage(1);
    Buffer.from([0xd8, 0x3a, 0xdd, 1, 2, 3]).copy(byMac.chaddr);
    byMac.options.set(60, Buffer.from(PI_VENDOR_CLASS));
    expect(detectRaspberryPi(byMac)).toEqual({ model: 'unknown', mac: 'd8:3a:dd:01:02:03' });
    // The Linux booted on the Pi (no option 60, or udhcpc's) and U-Boot (its own arch) are not the boot firmware.
    byMac.options.delete(60);
    expect(detectRaspberryPi(byMac)).toBeUndefined();
    byMac.options.set(60, Buffer.from('udhcp 1.36.1'));
    expect(detectRaspberryPi(byMac)).toBeUndefined();
    byMac.options.set(60, Buffer.from('PXEClient:Arch:00022:UNDI:003000'));
    expect(detectRaspberryPi(byMac)).toBeUndefined();
    expect(isPiBootVendorClass(PI_VENDOR_CLASS)).toBe(true);
    expect(isPiBootVendorClass(undefined)).toBe(false);
    const pc = buildClientMessage({ kind: 'pxe-pc', type: 'discover', mac: '52:54:00:12:34:56' });
    expect(detectRaspberryPi(pc)).toBeUndefined();
    // x86 BIOS PXE sends the same vendor class as a Pi: without a Pi GUID or MAC it is not a Pi.
    pc.options.set(60, Buffer.from(PI_VENDOR_CLASS));
    expect(detectRaspberryPi(pc)).toBeUndefined();
  });
});
