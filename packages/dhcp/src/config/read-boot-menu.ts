/**
 * Read back what a DHCP server config sends as the Raspberry Pi boot menu text (option 43
 * sub-option 9), so `bramble doctor` can tell whether a Pi 3B would accept it. Understands the three
 * forms the generators write: dnsmasq `pxe-service=…,"TEXT"`, ISC `option vendor-encapsulated-options
 * 06:01:…;` and Kea `"data": "0601…"` (raw option 43 bytes).
 */
import { PI_BOOT_MENU_TEXT } from '@bramble/pi';
import { DhcpError } from '../errors.js';
import { decodePxeVendorOptions } from '../pxe.js';

/** Config text read at most (a DHCP config is small; anything larger is not one). */
const MAX_CONFIG_CHARS = 4 * 1024 * 1024;

function menuTextsOf(option43: Buffer): string[] {
  try {
    return (decodePxeVendorOptions(option43).bootMenu ?? []).map((item) => item.description);
  } catch (error) {
    if (error instanceof DhcpError) return [];
    throw error;
  }
}

/** Every boot menu text containing "Raspberry Pi Boot" in a dnsmasq, ISC dhcpd or Kea config, as sent. */
export function raspberryPiBootTexts(config: string): string[] {
  const text = config.slice(0, MAX_CONFIG_CHARS);
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const dnsmasq = /^\s*pxe-service\s*=.*?"([^"]*)"/.exec(line);
    if (dnsmasq?.[1] !== undefined) found.push(dnsmasq[1]);
    const isc = /vendor-encapsulated-options\s+((?:[0-9a-f]{1,2}:)+[0-9a-f]{1,2})\s*;/i.exec(line);
    if (isc?.[1] !== undefined) {
      const bytes = Buffer.from(isc[1].split(':').map((octet) => Number.parseInt(octet, 16)));
      found.push(...menuTextsOf(bytes));
    }
    for (const kea of line.matchAll(/"data"\s*:\s*"([0-9A-Fa-f]{2,1024})"/g)) {
      const hex = kea[1] ?? '';
      if (hex.length % 2 === 0) found.push(...menuTextsOf(Buffer.from(hex, 'hex')));
    }
  }
  return found.filter((menu) => menu.includes(PI_BOOT_MENU_TEXT));
}
