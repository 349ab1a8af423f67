import { piModel } from '@bramble/pi';
import {
  boardFacts,
  option43Rule,
  PI_VENDOR_CLASS,
  PI3_FIRMWARE_PROFILE,
  PI3_ROM_XID,
  PI3B_PARAMETER_LIST,
  pi3bUuid,
  ROM_PROFILE,
} from './common.js';
import type { ModelSpec, TftpStep } from './types.js';

/**
 * Pi 3 boot sequence (boot-net.adoc; tftpd-hpa log of a 3B+ in PexMor/raspi-netboot; firmware#1041, #1362, #1605).
 * ROM: bootcode.bin (no options) → bootsig.bin (expected missing). bootcode.bin: `<serial>/start.elf` probe
 * decides the prefix, then autoboot.txt, config.txt, recovery.elf, start.elf, fixup.dat. start.elf: config.txt
 * (read again and again), dt-blob.bin, bootcfg.txt, dtb, overlays, cmdline.txt, kernel (probed, then read),
 * armstub8.bin.
 */
export const PI3_SEQUENCE: readonly TftpStep[] = [
  { kind: 'file', file: 'bootcode.bin', need: 'required', profile: 'rom', root: true },
  { kind: 'file', file: 'bootsig.bin', need: 'expect-missing', profile: 'rom', root: true },
  { kind: 'select-prefix', probes: ['start.elf'], profile: 'firmware', repeat: 2 },
  { kind: 'file', file: 'autoboot.txt', need: 'optional', profile: 'firmware' },
  { kind: 'file', file: 'config.txt', need: 'optional', profile: 'firmware', parse: 'config' },
  { kind: 'file', file: 'recovery.elf', need: 'expect-missing', profile: 'firmware' },
  { kind: 'file', file: '{start}', need: 'required', profile: 'firmware', probes: 1 },
  { kind: 'file', file: '{fixup}', need: 'required', profile: 'firmware' },
  { kind: 'file', file: 'recovery.elf', need: 'expect-missing', profile: 'firmware' },
  { kind: 'file', file: 'config.txt', need: 'optional', profile: 'firmware', parse: 'config', reads: 2 },
  { kind: 'file', file: 'dt-blob.bin', need: 'optional', profile: 'firmware' },
  { kind: 'file', file: 'recovery.elf', need: 'expect-missing', profile: 'firmware' },
  { kind: 'file', file: 'config.txt', need: 'optional', profile: 'firmware', parse: 'config', reads: 2 },
  { kind: 'file', file: 'bootcfg.txt', need: 'optional', profile: 'firmware' },
  { kind: 'file', file: '{dtb}', need: 'required', profile: 'firmware', probes: 1 },
  { kind: 'file', file: 'overlays/overlay_map.dtb', need: 'optional', profile: 'firmware', probes: 1 },
  { kind: 'file', file: 'config.txt', need: 'optional', profile: 'firmware', parse: 'config', reads: 2 },
  { kind: 'overlays', profile: 'firmware', reads: 1 },
  { kind: 'file', file: '{cmdline}', need: 'required', profile: 'firmware', probes: 1, parse: 'cmdline' },
  { kind: 'file', file: 'recovery8.img', need: 'expect-missing', profile: 'firmware', when: 'arm64' },
  { kind: 'file', file: '{kernel}', need: 'required', profile: 'firmware', probes: 3 },
  { kind: 'file', file: '{initramfs}', need: 'required', profile: 'firmware', when: 'initramfs' },
  { kind: 'file', file: 'armstub8.bin', need: 'optional', profile: 'firmware', when: 'arm64' },
];

/** Pi 3 Model B (BCM2837A0 boot ROM, with its known bugs). */
export const pi3b: ModelSpec = {
  model: 'pi3b',
  ...boardFacts('pi3b'),
  dhcp: {
    vendorClass: PI_VENDOR_CLASS,
    clientArch: 0,
    clientNdi: [1, 2, 1],
    parameterList: PI3B_PARAMETER_LIST,
    uuid: pi3bUuid,
    xid: { kind: 'fixed', value: PI3_ROM_XID },
    sendsRequest: false,
    requestHasVendorClass: false,
    retry: piModel('pi3b').boot.dhcpRetry,
    ...option43Rule('pi3b'),
  },
  tftp: { rom: ROM_PROFILE, firmware: PI3_FIRMWARE_PROFILE },
  sequence: PI3_SEQUENCE,
  ignoresConfigWithoutOack: false,
};
