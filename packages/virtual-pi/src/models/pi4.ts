import { piModel } from '@bramble/pi';
import {
  boardFacts,
  EEPROM_PARAMETER_LIST,
  eepromUuid,
  option43Rule,
  PI_VENDOR_CLASS,
  PI4_EEPROM_PROFILE,
  PI4_START_PROFILE,
} from './common.js';
import type { DhcpProfile, ModelSpec, TftpStep } from './types.js';

/**
 * Pi 4 / 400 / CM4 sequence (rpi-eeprom#74, #87; nobodd explain-pi-netboot; pi-netboot.md §2.5).
 * EEPROM: `<prefix>/start4.elf` (then start.elf) decides the prefix; config.txt, recover4.elf, recovery.elf,
 * pieeprom.sig (self-update probe, missing), start4.elf + fixup4.dat. start4.elf: config.txt again, dtb,
 * overlays, cmdline.txt, kernel, initramfs when config.txt asks for one.
 */
export const PI4_SEQUENCE: readonly TftpStep[] = [
  { kind: 'select-prefix', probes: ['start4.elf', 'start.elf'], profile: 'eeprom' },
  { kind: 'file', file: 'config.txt', need: 'optional', profile: 'eeprom', parse: 'config', probes: 1 },
  { kind: 'file', file: 'recover4.elf', need: 'expect-missing', profile: 'eeprom' },
  { kind: 'file', file: 'recovery.elf', need: 'expect-missing', profile: 'eeprom' },
  { kind: 'file', file: 'pieeprom.sig', need: 'expect-missing', profile: 'eeprom' },
  { kind: 'file', file: '{start}', need: 'required', profile: 'eeprom', probes: 1 },
  { kind: 'file', file: '{fixup}', need: 'required', profile: 'eeprom' },
  { kind: 'file', file: 'config.txt', need: 'optional', profile: 'start4', parse: 'config', reads: 2 },
  { kind: 'file', file: '{dtb}', need: 'required', profile: 'start4', probes: 1 },
  { kind: 'file', file: 'overlays/overlay_map.dtb', need: 'optional', profile: 'start4' },
  { kind: 'file', file: 'config.txt', need: 'optional', profile: 'start4', parse: 'config' },
  { kind: 'overlays', profile: 'start4' },
  { kind: 'file', file: '{cmdline}', need: 'required', profile: 'start4', parse: 'cmdline' },
  { kind: 'file', file: '{kernel}', need: 'required', profile: 'start4', probes: 1 },
  { kind: 'file', file: '{initramfs}', need: 'required', profile: 'start4', when: 'initramfs' },
];

export const PI4_DHCP: DhcpProfile = {
  vendorClass: PI_VENDOR_CLASS,
  clientArch: 0,
  clientNdi: [1, 2, 1],
  parameterList: EEPROM_PARAMETER_LIST,
  uuid: eepromUuid('pi4', boardFacts('pi4').boardRevision),
  xid: { kind: 'random' },
  sendsRequest: true,
  requestHasVendorClass: false,
  retry: piModel('pi4').boot.dhcpRetry,
  ...option43Rule('pi4'),
};

/** Raspberry Pi 4 Model B (BCM2711, EEPROM bootloader). */
export const pi4: ModelSpec = {
  model: 'pi4',
  ...boardFacts('pi4'),
  dhcp: PI4_DHCP,
  tftp: { eeprom: PI4_EEPROM_PROFILE, start4: PI4_START_PROFILE },
  sequence: PI4_SEQUENCE,
  ignoresConfigWithoutOack: true,
};
