import {
  EEPROM_PARAMETER_LIST,
  encodePiGuid,
  legacySerialGuid,
  PI_VENDOR_CLASS,
  PI3_ROM_GUID,
  PI3_ROM_XID,
  PI3B_PARAMETER_LIST,
  PI3BPLUS_PARAMETER_LIST,
} from '@bramble/dhcp';
import { PI_BOOT_MENU_TEXT, type PiModelName, piModel } from '@bramble/pi';
import type { ModelSpec, PiIdentity, TftpProfile } from './types.js';

/** The @bramble/pi model table row as a ModelSpec's board facts (name, SoC, filters, TFTP prefixes, files). */
export function boardFacts(
  name: PiModelName,
): Pick<ModelSpec, 'name' | 'soc' | 'configFilters' | 'boardRevision' | 'oui' | 'prefixModes' | 'files'> {
  const info = piModel(name);
  return {
    name: info.name,
    soc: info.soc,
    configFilters: info.configFilters,
    boardRevision: info.boardRevision,
    oui: info.oui,
    prefixModes: info.boot.tftpPrefixes,
    files: info.files,
  };
}

/** Option 43 rule of a model, from the table. */
export function option43Rule(name: PiModelName): {
  option43Match: string;
  option43NeedsTrailingSpaces: boolean;
} {
  return {
    option43Match: PI_BOOT_MENU_TEXT,
    option43NeedsTrailingSpaces: piModel(name).boot.option43TrailingSpaces,
  };
}

/** Option 60 every Pi netboot client sends, the Pi 3 ROM's constant xid. */
/** Option 55 of each ROM/bootloader, as @bramble/dhcp's client messages send it. */
export { EEPROM_PARAMETER_LIST, PI_VENDOR_CLASS, PI3_ROM_XID, PI3B_PARAMETER_LIST, PI3BPLUS_PARAMETER_LIST };

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
  blksize: piModel('pi4').boot.blksize,
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
  blksize: piModel('pi5').boot.blksize,
  fileTimeoutMs: 30 * S,
  retransmitTimeoutS: 1,
  retries: 5,
};
