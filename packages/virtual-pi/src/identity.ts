import { normaliseMac, normaliseSerial } from '@bramble/pi';

/** A MAC for a virtual Pi: the model's OUI + the low 3 bytes of the serial (as Pi 3 boards derive theirs). */
export function defaultMac(oui: string, serial: string): string {
  const low = normaliseSerial(serial).slice(-6);
  return normaliseMac(`${oui.replace(/[-:]/g, '')}${low}`);
}
