import { PiError } from './errors.js';
import { normaliseSerial } from './serial.js';

/**
 * Raspberry Pi OUIs (pi-netboot.md §5): b8:27:eb (Pi 1-3), dc:a6:32 (Pi 4), e4:5f:01, d8:3a:dd
 * (later Pi 4 / CM4 / Pi 5), 2c:cf:67 (Pi 5 / CM5).
 */
export const RASPBERRY_PI_OUIS: readonly string[] = Object.freeze([
  'b8:27:eb',
  'dc:a6:32',
  'e4:5f:01',
  'd8:3a:dd',
  '2c:cf:67',
]);

const SPELLINGS = [
  /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, // dc:a6:32:01:36:c2
  /^([0-9a-f]{2}-){5}[0-9a-f]{2}$/i, // DC-A6-32-01-36-C2 (and the TFTP_PREFIX=2 directory form)
  /^([0-9a-f]{4}\.){2}[0-9a-f]{4}$/i, // dca6.3201.36c2
  /^[0-9a-f]{12}$/i, // dca6320136c2
];

/** A MAC in any usual spelling (one separator throughout) → `dc:a6:32:01:36:c2`; throws PiError('INVALID_MAC'). */
export function normaliseMac(mac: string): string {
  const text = mac.trim();
  if (!SPELLINGS.some((re) => re.test(text))) {
    throw new PiError('INVALID_MAC', `MAC address '${mac}' is not 6 hex octets, e.g. 'dc:a6:32:01:36:c2'`);
  }
  return text.toLowerCase().replace(/[:.-]/g, '').match(/../g)!.join(':');
}

export function isMac(mac: string): boolean {
  return SPELLINGS.some((re) => re.test(mac.trim()));
}

/**
 * The MAC a Pi 1-3 board derives from its serial: the b8:27:eb OUI and the serial's low 3 bytes (the
 * Pi 3B ROM's DISCOVER carries no serial, only this MAC). Throws PiError('INVALID_SERIAL').
 */
export function pi3MacFromSerial(serial: string): string {
  const low = normaliseSerial(serial).slice(2);
  return `b8:27:eb:${low.slice(0, 2)}:${low.slice(2, 4)}:${low.slice(4, 6)}`;
}

/** The 6 bytes of a MAC. */
export function macBytes(mac: string): Buffer {
  return Buffer.from(normaliseMac(mac).replaceAll(':', ''), 'hex');
}

/** The Pi 4/5 TFTP_PREFIX=2 directory name: `dc-a6-32-01-36-c2` (pi-netboot.md §2.2). */
export function macDirName(mac: string): string {
  return normaliseMac(mac).replaceAll(':', '-');
}

export function isRaspberryPiMac(mac: string): boolean {
  if (!isMac(mac)) return false;
  const normal = normaliseMac(mac);
  return RASPBERRY_PI_OUIS.some((oui) => normal.startsWith(oui));
}
