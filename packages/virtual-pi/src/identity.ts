import { VirtualPiError } from './errors.js';

/**
 * A Raspberry Pi serial as the firmware uses it for its TFTP directory: the last 8 hex digits of
 * /proc/cpuinfo's Serial, lowercase, zero padded; a leading `10000000` is ignored (pi-netboot.md §1.6).
 */
export function normaliseSerial(serial: string): string {
  const s = serial.trim().toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]{1,16}$/.test(s)) {
    throw new VirtualPiError('INVALID_SERIAL', `serial '${serial}' is not 1-16 hex digits (e.g. 7a1b2c3d)`);
  }
  return s.padStart(8, '0').slice(-8);
}

/** 'DC-A6-32-01-36-C2', 'dca6320136c2', 'dc:a6:32:01:36:c2' → 'dc:a6:32:01:36:c2'. */
export function normaliseMac(mac: string): string {
  const hex = mac.trim().toLowerCase().replace(/[-:.]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) {
    throw new VirtualPiError('INVALID_MAC', `MAC '${mac}' is not 6 hex bytes (e.g. dc:a6:32:01:36:c2)`);
  }
  return hex.match(/../g)!.join(':');
}

export function macBytes(mac: string): Buffer {
  return Buffer.from(normaliseMac(mac).replace(/:/g, ''), 'hex');
}

/** The Pi 4/5 TFTP_PREFIX=2 directory name: 'dc-a6-32-01-36-c2' (pi-netboot.md §2.2). */
export function macPrefix(mac: string): string {
  return normaliseMac(mac).replace(/:/g, '-');
}

/** A MAC for a virtual Pi: the model's OUI + the low 3 bytes of the serial (as Pi 3 boards derive theirs). */
export function defaultMac(oui: string, serial: string): string {
  const low = normaliseSerial(serial).slice(-6);
  return normaliseMac(`${oui.replace(/[-:]/g, '')}${low}`);
}

/** The serial as a 32-bit number. */
export function serialNumber(serial: string): number {
  return Number.parseInt(normaliseSerial(serial), 16) >>> 0;
}
