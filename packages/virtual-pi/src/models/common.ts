import {
  encodePiGuid,
  legacySerialGuid,
  PI_BOOT_MENU_TEXT,
  PI_VENDOR_CLASS,
  PI3_ROM_GUID,
  PI3_ROM_XID,
} from '@bramble/dhcp';
import type { PiIdentity, TftpProfile } from './types.js';

/** Option 60 every Pi netboot client sends, the Pi 3 ROM's constant xid, the option 43 match string. */
export { PI_VENDOR_CLASS, PI3_ROM_XID };
export const RASPBERRY_PI_BOOT = PI_BOOT_MENU_TEXT;

const PXE_VENDOR_OPTIONS = [128, 129, 130, 131, 132, 133, 134, 135] as const;
/** Option 55 of the Pi 3B ROM, 12 entries (boot-net.adoc capture). */
export const PI3B_PARAMETER_LIST = [43, 60, 67, ...PXE_VENDOR_OPTIONS, 66] as const;
/** Option 55 of the Pi 3B+ ROM, 14 entries: adds 1 and 3 (firmware#871 tcpdump). */
export const PI3BPLUS_PARAMETER_LIST = [1, 3, 43, 60, 67, ...PXE_VENDOR_OPTIONS, 66] as const;
/** Option 55 of the Pi 4/5 EEPROM bootloader (cmprovision#5, wol.ski Pi 5 capture). */
export const EEPROM_PARAMETER_LIST = [1, 3, 43, 60, 66, 67, ...PXE_VENDOR_OPTIONS] as const;

const withType = (guid: Buffer) => Buffer.concat([Buffer.from([0]), guid]);

/** RFC 4578 §2.3: type 0 + 16 bytes. Pi 3B: the constant 16 × 0x44 ("DHCP UUID constant", fixed in 3B+). */
export function pi3bUuid(): Buffer {
  return withType(PI3_ROM_GUID);
}

/** Pi 3B+: "the value is set to the 32-bit serial number" (boot-net.adoc), as @bramble/dhcp encodes it. */
export function pi3bplusUuid(id: PiIdentity): Buffer {
  return withType(legacySerialGuid(id.serial));
}

/**
 * Pi 4/5 option 97: type 0, FourCC ("RPi4"/"RPi5"), board revision, least significant 4 bytes of the MAC,
 * serial (eeprom-bootloader.adoc DHCP_OPTION97), encoded by @bramble/dhcp so its detector recognises us.
 */
export function eepromUuid(model: 'pi4' | 'pi5', boardRevision: number): (id: PiIdentity) => Buffer {
  return (id) => withType(encodePiGuid({ model, boardRevision, mac: id.mac, serial: id.serial }));
}

const S = 1000;

/** Pi 3 ROM: bootcode.bin with a plain RFC 1350 RRQ (no options, 512-byte blocks). */
export const ROM_PROFILE: TftpProfile = {
  stage: 'boot ROM',
  options: false,
  fileTimeoutMs: 30 * S,
  retransmitTimeoutS: 1,
  retries: 5,
};
/** bootcode.bin / start.elf on Pi 3: `tsize 0` only (firmware#1041). */
export const PI3_FIRMWARE_PROFILE: TftpProfile = {
  stage: 'bootcode.bin',
  options: true,
  fileTimeoutMs: 30 * S,
  retransmitTimeoutS: 1,
  retries: 5,
};
/** Pi 4 EEPROM: `tsize 0 blksize 1024` (rpi-eeprom#74), 30 s TFTP_FILE_TIMEOUT. */
export const PI4_EEPROM_PROFILE: TftpProfile = {
  stage: 'EEPROM bootloader',
  options: true,
  blksize: 1024,
  fileTimeoutMs: 30 * S,
  retransmitTimeoutS: 1,
  retries: 5,
};
/** start4.elf: max block 1024 (rpi-eeprom#375). */
export const PI4_START_PROFILE: TftpProfile = { ...PI4_EEPROM_PROFILE, stage: 'start4.elf' };
/** Pi 5 EEPROM: negotiates 1468 (tinkerbell RASPBERRY_PI5.md), 30 s TFTP_FILE_TIMEOUT. */
export const PI5_EEPROM_PROFILE: TftpProfile = {
  stage: 'EEPROM bootloader',
  options: true,
  blksize: 1468,
  fileTimeoutMs: 30 * S,
  retransmitTimeoutS: 1,
  retries: 5,
};
