/**
 * The model table: every Raspberry Pi the netboot firmware knows, with what decides how it boots.
 * Sources (see /work/shared/reference/pi-netboot.md): boot-net.adoc and its "Known problems" table
 * (§1.3, §1.4), the EEPROM bootloader docs and release notes (§2.2-§2.6), config_txt/conditional.adoc
 * (filters), raspberry-pi revision-codes (board revision type field). Facts marked "inferred" are deductions.
 */
import { PiError } from './errors.js';

export const PI_MODELS = [
  'pi3b',
  'pi3b+',
  'pi3a+',
  'pizero2w',
  'pi4',
  'pi400',
  'cm4',
  'pi5',
  'pi500',
  'cm5',
] as const;
export type PiModelName = (typeof PI_MODELS)[number];

/** Boot firmware generation: Pi 3 ROM + bootcode.bin, Pi 4 (BCM2711) EEPROM, Pi 5 (BCM2712) EEPROM. */
export type PiFamily = 'pi3' | 'pi4' | 'pi5';

/** What option 43 must hold for this model's DHCP client. */
export const PI_BOOT_MENU_TEXT = 'Raspberry Pi Boot';
/** The Pi 3B (BCM2837A0) ROM string-length bug: "Raspberry Pi Boot" plus three spaces (boot-net.adoc). */
export const PI_BOOT_MENU_TEXT_PADDED = `${PI_BOOT_MENU_TEXT}   `;

/** How a model's TFTP directory can be named (EEPROM TFTP_PREFIX 0 serial, 1 custom string, 2 MAC). */
export type TftpPrefixMode = 'serial' | 'mac' | 'custom';

/**
 * How a loader's DHCP client retries (pi-netboot.md §1 "Known problems" table, §2.2 EEPROM keys).
 * The Pi 3 ROM sends 5 DISCOVERs 5 s apart, then sits in a low-power state until power-cycled; the
 * EEPROM bootloader waits DHCP_REQ_TIMEOUT (4 s) per DISCOVER for DHCP_TIMEOUT (45 s) in all, then
 * moves on in BOOT_ORDER, whose RESTART (0xf, in the default 0xf41) starts network boot again.
 */
export interface PiDhcpRetry {
  /** Wait for an offer after each DISCOVER. */
  requestTimeoutMs: number;
  /** The whole DHCP sequence of one network-boot attempt. */
  totalTimeoutMs: number;
  /** After it: 'halt' until power-cycled, or 'restart' the network boot (a new DHCP sequence). */
  afterTimeout: 'halt' | 'restart';
}

/** DISCOVERs in one network-boot attempt (the last one sent before totalTimeoutMs runs out). */
export function dhcpAttempts(retry: PiDhcpRetry): number {
  return Math.ceil(retry.totalTimeoutMs / retry.requestTimeoutMs);
}

export interface PiModelBoot {
  /**
   * Who does the network boot: the boot ROM (Pi 3B/3B+; 3B needs the OTP bit set once), the EEPROM
   * bootloader (Pi 4/5 families), or bootcode.bin on an SD card with a USB Ethernet adapter (boards
   * without on-board Ethernet whose ROM cannot netboot; inferred from boot-net.adoc).
   */
  loader: 'rom' | 'eeprom' | 'sd-bootcode';
  /** TFTP boot (every model). */
  tftp: true;
  /** HTTP boot (BOOT_ORDER nibble 7): Pi 4 bootloader ≥ 2022-03-10 and Pi 5 (pi-netboot.md §2.6). */
  http: boolean;
  /** Option 43 needs "Raspberry Pi Boot   " (three trailing spaces): only the Pi 3B ROM, fixed in 3B+. */
  option43TrailingSpaces: boolean;
  /** TFTP directory naming the firmware supports; the first is its default. Pi 3: serial only. */
  tftpPrefixes: readonly TftpPrefixMode[];
  /**
   * Block size the firmware asks for (RFC 2348): 512 = no blksize option (Pi 3 ROM / bootcode.bin),
   * 1024 (Pi 4 EEPROM and start4.elf, rpi-eeprom#74, #375), 1468 (Pi 5, tinkerbell).
   */
  blksize: number;
  /** Files probed under `<prefix>/` first; the first found keeps the prefix (pi-netboot.md §1.5, §2.5). */
  prefixProbes: readonly string[];
  /** How its DHCP client retries, and what it does when no offer comes. */
  dhcpRetry: PiDhcpRetry;
}

export interface PiModelFiles {
  /** Firmware the loader fetches (none on a Pi 5: its bootloader embeds start.elf). */
  start?: string;
  fixup?: string;
  /** The device tree start*.elf (or the Pi 5 bootloader) loads. */
  dtb: string;
  /** Kernel candidates for arm_64bit=1 / arm_64bit=0, tried in order. */
  kernel64: readonly string[];
  kernel32: readonly string[];
  /** arm_64bit when config.txt does not say. */
  arm64Default: boolean;
}

export interface PiModelInfo {
  model: PiModelName;
  /** Marketing name. */
  name: string;
  family: PiFamily;
  soc: 'bcm2837' | 'bcm2711' | 'bcm2712';
  /** New-style revision code type field, `(revision >> 4) & 0xff` (revision-codes.adoc). */
  revisionType: number;
  /** The revision code a typical board reports. */
  boardRevision: number;
  /** config.txt conditional filters that apply to this board (conditional.adoc). */
  configFilters: readonly string[];
  /** MAC OUI of typical boards. */
  oui: string;
  boot: PiModelBoot;
  files: PiModelFiles;
}

const PI3_FILES = {
  start: 'start.elf',
  fixup: 'fixup.dat',
  kernel64: ['kernel8.img'],
  kernel32: ['kernel7.img', 'kernel.img'],
  arm64Default: false,
} as const;
const PI4_FILES = {
  start: 'start4.elf',
  fixup: 'fixup4.dat',
  kernel64: ['kernel8.img'],
  kernel32: ['kernel7l.img', 'kernel7.img', 'kernel.img'],
  arm64Default: true,
} as const;
const PI5_FILES = {
  kernel64: ['kernel_2712.img', 'kernel8.img'],
  kernel32: ['kernel_2712.img', 'kernel8.img'],
  arm64Default: true,
} as const;

const PI3_BOOT: PiModelBoot = {
  loader: 'rom',
  tftp: true,
  http: false,
  option43TrailingSpaces: false,
  tftpPrefixes: ['serial'],
  blksize: 512,
  prefixProbes: ['start.elf'],
  dhcpRetry: { requestTimeoutMs: 5_000, totalTimeoutMs: 25_000, afterTimeout: 'halt' },
};
const PI4_BOOT: PiModelBoot = {
  loader: 'eeprom',
  tftp: true,
  http: true,
  option43TrailingSpaces: false, // "ignores trailing characters" (2019-10-16 release note)
  tftpPrefixes: ['serial', 'mac', 'custom'],
  blksize: 1024,
  prefixProbes: ['start4.elf', 'start.elf'],
  dhcpRetry: { requestTimeoutMs: 4_000, totalTimeoutMs: 45_000, afterTimeout: 'restart' },
};
const PI5_BOOT: PiModelBoot = { ...PI4_BOOT, blksize: 1468, prefixProbes: ['config.txt'] };

const PI3B: PiModelInfo = {
  model: 'pi3b',
  name: 'Raspberry Pi 3 Model B',
  family: 'pi3',
  soc: 'bcm2837',
  revisionType: 0x08,
  boardRevision: 0xa02082,
  configFilters: ['pi3'],
  oui: 'b8:27:eb',
  boot: { ...PI3_BOOT, option43TrailingSpaces: true },
  files: { ...PI3_FILES, dtb: 'bcm2710-rpi-3-b.dtb' },
};
const PI3BPLUS: PiModelInfo = {
  ...PI3B,
  model: 'pi3b+',
  name: 'Raspberry Pi 3 Model B+',
  revisionType: 0x0d,
  boardRevision: 0xa020d3,
  configFilters: ['pi3', 'pi3+'],
  boot: PI3_BOOT,
  files: { ...PI3_FILES, dtb: 'bcm2710-rpi-3-b-plus.dtb' },
};
const PI4: PiModelInfo = {
  model: 'pi4',
  name: 'Raspberry Pi 4 Model B',
  family: 'pi4',
  soc: 'bcm2711',
  revisionType: 0x11,
  boardRevision: 0xc03114,
  configFilters: ['pi4'],
  oui: 'dc:a6:32',
  boot: PI4_BOOT,
  files: { ...PI4_FILES, dtb: 'bcm2711-rpi-4-b.dtb' },
};
const PI5: PiModelInfo = {
  model: 'pi5',
  name: 'Raspberry Pi 5',
  family: 'pi5',
  soc: 'bcm2712',
  revisionType: 0x17,
  boardRevision: 0xd04170,
  configFilters: ['pi5'],
  oui: '2c:cf:67',
  boot: PI5_BOOT,
  files: { ...PI5_FILES, dtb: 'bcm2712-rpi-5-b.dtb' },
};

/** A board of a family that differs from its base row only in identity, filters and device tree. */
function variant(
  base: PiModelInfo,
  row: Pick<PiModelInfo, 'model' | 'name' | 'revisionType' | 'boardRevision' | 'configFilters'> &
    Partial<Pick<PiModelInfo, 'oui' | 'boot'>> & { dtb: string },
): PiModelInfo {
  const { dtb, ...rest } = row;
  return { ...base, ...rest, files: { ...base.files, dtb } };
}

const TABLE: Readonly<Record<PiModelName, PiModelInfo>> = {
  pi3b: PI3B,
  'pi3b+': PI3BPLUS,
  'pi3a+': variant(PI3BPLUS, {
    model: 'pi3a+',
    name: 'Raspberry Pi 3 Model A+',
    revisionType: 0x0e,
    boardRevision: 0x9020e0,
    configFilters: ['pi3', 'pi3+'],
    boot: { ...PI3_BOOT, loader: 'sd-bootcode' }, // bootcode.bin's DHCP retries: assumed the ROM's
    dtb: 'bcm2710-rpi-3-b-plus.dtb',
  }),
  pizero2w: variant(PI3BPLUS, {
    model: 'pizero2w',
    name: 'Raspberry Pi Zero 2 W',
    revisionType: 0x12,
    boardRevision: 0x902120,
    configFilters: ['pi02'],
    boot: { ...PI3_BOOT, loader: 'sd-bootcode' },
    dtb: 'bcm2710-rpi-zero-2-w.dtb',
  }),
  pi4: PI4,
  pi400: variant(PI4, {
    model: 'pi400',
    name: 'Raspberry Pi 400',
    revisionType: 0x13,
    boardRevision: 0xc03130,
    configFilters: ['pi4', 'pi400'],
    dtb: 'bcm2711-rpi-400.dtb',
  }),
  cm4: variant(PI4, {
    model: 'cm4',
    name: 'Raspberry Pi Compute Module 4',
    revisionType: 0x14,
    boardRevision: 0xa03141,
    configFilters: ['pi4', 'cm4'],
    oui: 'e4:5f:01',
    dtb: 'bcm2711-rpi-cm4.dtb',
  }),
  pi5: PI5,
  pi500: variant(PI5, {
    model: 'pi500',
    name: 'Raspberry Pi 500',
    revisionType: 0x19,
    boardRevision: 0xd04190,
    configFilters: ['pi5', 'pi500'],
    dtb: 'bcm2712-rpi-500.dtb',
  }),
  cm5: variant(PI5, {
    model: 'cm5',
    name: 'Raspberry Pi Compute Module 5',
    revisionType: 0x18,
    boardRevision: 0xd04180,
    configFilters: ['pi5', 'cm5'],
    dtb: 'bcm2712-rpi-cm5-cm5io.dtb',
  }),
};

/** The model table, keyed by model name. */
export const PI_MODEL_TABLE: Readonly<Record<PiModelName, PiModelInfo>> = TABLE;

export function isPiModelName(name: string): name is PiModelName {
  return (PI_MODELS as readonly string[]).includes(name);
}

/** The table row of a model; throws PiError('UNKNOWN_MODEL') naming every known model. */
export function piModel(name: string): PiModelInfo {
  if (!isPiModelName(name)) {
    throw new PiError('UNKNOWN_MODEL', `unknown Pi model '${name}': expected one of ${PI_MODELS.join(', ')}`);
  }
  return TABLE[name];
}

/** Models of a family, in table order. */
export function modelsOfFamily(family: PiFamily): PiModelName[] {
  return PI_MODELS.filter((name) => TABLE[name].family === family);
}

/** The model a board revision code names (new-style codes, bit 23 set), when the table has it. */
export function modelFromBoardRevision(revision: number): PiModelName | undefined {
  if (((revision >>> 23) & 1) !== 1) return undefined;
  const type = (revision >>> 4) & 0xff;
  return PI_MODELS.find((name) => TABLE[name].revisionType === type);
}

/**
 * A model from what a discovery saw: a model name passes through; a family name (`pi3`, `pi4`, `pi5`:
 * all a TFTP path or an option 97 FourCC tells) becomes the family's first model, the one with the
 * strictest needs (a Pi 3 is taken for a 3B: serial directory, trailing-space option 43).
 * Undefined for 'unknown' or anything else.
 */
export function modelFromDetected(detected: string | undefined): PiModelName | undefined {
  if (detected === undefined) return undefined;
  if (isPiModelName(detected)) return detected;
  if (detected === 'pi3' || detected === 'pi4' || detected === 'pi5') return modelsOfFamily(detected)[0];
  return undefined;
}

/**
 * The option 43 boot menu text a DHCP server must send when these models may ask: the padded form
 * when any of them has the Pi 3B ROM bug (later firmware matches the padded form too, pi-netboot.md §0.2).
 */
export function option43Text(models: Iterable<string | undefined>): string {
  for (const name of models) {
    if (name !== undefined && isPiModelName(name) && TABLE[name].boot.option43TrailingSpaces) {
      return PI_BOOT_MENU_TEXT_PADDED;
    }
  }
  return PI_BOOT_MENU_TEXT;
}

/** `pi3b, pi3b+, …` for help texts and messages. */
export function piModelList(separator = ', '): string {
  return PI_MODELS.join(separator);
}
