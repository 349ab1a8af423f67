import { boardFacts, eepromUuid, PI5_EEPROM_PROFILE } from './common.js';
import { PI4_DHCP } from './pi4.js';
import type { ModelSpec, TftpStep } from './types.js';

/**
 * Pi 5 sequence: no start*.elf — the bootloader embeds it (bootflow-eeprom.adoc). `<prefix>/config.txt` decides
 * the prefix; pieeprom.sig (missing), overlay map, dtb, overlays, cmdline.txt, kernel_2712.img falling back to
 * kernel8.img, initramfs_2712 (tinkerbell RASPBERRY_PI5.md; andrewiankidd Pi 5 guide).
 */
export const PI5_SEQUENCE: readonly TftpStep[] = [
  { kind: 'select-prefix', probes: ['config.txt'], profile: 'eeprom' },
  { kind: 'file', file: 'config.txt', need: 'optional', profile: 'eeprom', parse: 'config', probes: 1 },
  { kind: 'file', file: 'pieeprom.sig', need: 'expect-missing', profile: 'eeprom' },
  { kind: 'file', file: 'overlays/overlay_map.dtb', need: 'optional', profile: 'eeprom' },
  { kind: 'file', file: 'armstub8-2712.bin', need: 'optional', profile: 'eeprom' },
  { kind: 'file', file: '{dtb}', need: 'required', profile: 'eeprom', probes: 1 },
  { kind: 'overlays', profile: 'eeprom' },
  { kind: 'file', file: '{cmdline}', need: 'required', profile: 'eeprom', parse: 'cmdline' },
  { kind: 'file', file: '{kernel}', need: 'required', profile: 'eeprom', probes: 1 },
  { kind: 'file', file: '{initramfs}', need: 'required', profile: 'eeprom', when: 'initramfs' },
];

/** Raspberry Pi 5 (BCM2712, EEPROM bootloader with embedded firmware). */
export const pi5: ModelSpec = {
  model: 'pi5',
  ...boardFacts('pi5'),
  dhcp: { ...PI4_DHCP, uuid: eepromUuid('pi5', boardFacts('pi5').boardRevision) },
  tftp: { eeprom: PI5_EEPROM_PROFILE },
  sequence: PI5_SEQUENCE,
  ignoresConfigWithoutOack: false,
};

/** Raspberry Pi 500: a Pi 5 in a keyboard, its own device tree. */
export const pi500: ModelSpec = {
  ...pi5,
  model: 'pi500',
  ...boardFacts('pi500'),
  dhcp: { ...PI4_DHCP, uuid: eepromUuid('pi5', boardFacts('pi500').boardRevision) },
};

/** Compute Module 5 (on the CM5 IO board device tree). */
export const cm5: ModelSpec = {
  ...pi5,
  model: 'cm5',
  ...boardFacts('cm5'),
  dhcp: { ...PI4_DHCP, uuid: eepromUuid('pi5', boardFacts('cm5').boardRevision) },
};
