import { PiError } from './errors.js';

/**
 * The one serial rule (pi-netboot.md §1.6, §0.5): the firmware names a Pi's TFTP directory after the
 * last 8 hex digits of /proc/cpuinfo `Serial` (16 digits, e.g. `10000000abcd1234`), lowercase, leading
 * zeros kept (`0660cd37`). So a serial is given either as those 8 digits or as the full 16-digit value
 * (its last 8 are used, whatever the first 8 are: `10000000`, `00000000` or a Pi 5's own digits);
 * a `0x` prefix and uppercase are accepted. Anything else is not a serial.
 */
export const SERIAL_RULE =
  "8 hex digits as in the Pi's TFTP directory (e.g. 7a1b2c3d), or the 16-digit Serial from /proc/cpuinfo (its last 8 are used)";

/** `10000000ABCD1234` → `abcd1234`; throws PiError('INVALID_SERIAL') with {@link SERIAL_RULE}. */
export function normaliseSerial(serial: string): string {
  const digits = serial.trim().toLowerCase().replace(/^0x/, '');
  if (!/^([0-9a-f]{8}|[0-9a-f]{16})$/.test(digits)) {
    throw new PiError('INVALID_SERIAL', `serial '${serial}' is not ${SERIAL_RULE}`);
  }
  return digits.slice(-8);
}

/** True when {@link normaliseSerial} accepts it. */
export function isSerial(serial: string): boolean {
  return /^(0x)?([0-9a-f]{8}|[0-9a-f]{16})$/i.test(serial.trim());
}

/** The serial as a 32-bit number (option 97 GUIDs carry it so). */
export function serialNumber(serial: string): number {
  return Number.parseInt(normaliseSerial(serial), 16) >>> 0;
}
