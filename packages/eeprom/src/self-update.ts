/**
 * What decides whether a node picks up pieeprom.upd over the network (bootloader self-update):
 *
 * - The bootloader (Pi 4 family: "releases prior to 2021 do not support self-update", the release
 *   notes add it 2020-09; every Pi 5 family release) looks for
 *   pieeprom.sig / pieeprom.upd in its TFTP boot directory when ENABLE_SELF_UPDATE=1 (default)
 *   — eeprom-bootloader.adoc, ENABLE_SELF_UPDATE; firmware-2711 release notes 2020-09-14 "Add support
 *   for bootloader updates for USB MSD or network boot (self-update)"; firmware-2712 "rpi-eeprom-update
 *   uses self-update on Pi5 rather than recovery.bin … the same on all boot-modes".
 * - It applies the update only when the .sig's `ts` is newer than its update-timestamp and the image
 *   differs from the EEPROM (release notes 2020-10-28), then resets.
 * - recovery.bin is never fetched over the network: "the 2711 ROM does not support network or USB MSD
 *   loading of recovery.bin" (rpi-eeprom-update); on Pi 5 recovery.bin is only for SD-card images.
 * - Self-update is off when the EEPROM has ENABLE_SELF_UPDATE=0 or FREEZE_VERSION=1 (which "overrides
 *   ENABLE_SELF_UPDATE"), or config.txt in the boot directory says bootloader_update=0. CM4 ships
 *   with self-update disabled ("must first be enabled by removing ENABLE_SELF_UPDATE=0 … via
 *   usbboot", rpi-eeprom-update -h). For those, use the SD-card recovery files (Pi 4/400/5/500) or
 *   rpiboot/usbboot (CM4/CM5) once.
 */
import { effectiveSettings } from './bootconf.js';
import { EepromError } from './errors.js';

/** Throws NO_NETWORK_BOOT unless BOOT_ORDER (default 0xf41: SD, USB) includes network (2). */
export function checkNetworkBoot(config: string): void {
  const order = effectiveSettings(config).BOOT_ORDER ?? '0xf41';
  if (/^0x[0-9a-f]*2[0-9a-f]*$/i.test(order)) return;
  throw new EepromError(
    'NO_NETWORK_BOOT',
    `BOOT_ORDER=${order} has no network boot (2): after this update the node would not network boot again; set e.g. BOOT_ORDER=0xf21 (SD, then network) or 0xf2 (network only)`,
  );
}

/** Settings in a config that stop later network updates (each a sentence). */
export function selfUpdateWarnings(config: string): string[] {
  const settings = effectiveSettings(config);
  const out: string[] = [];
  if (settings.ENABLE_SELF_UPDATE === '0')
    out.push('ENABLE_SELF_UPDATE=0: later updates cannot be rolled out over the network');
  if (settings.FREEZE_VERSION === '1')
    out.push('FREEZE_VERSION=1 overrides ENABLE_SELF_UPDATE: later updates need the SD-card recovery files');
  return out;
}

/** config.txt (in the node's boot directory) disables self-update with `bootloader_update=0`. */
export function configTxtBlocksSelfUpdate(configTxt: string): boolean {
  return /^\s*bootloader_update\s*=\s*0\s*$/m.test(configTxt);
}
