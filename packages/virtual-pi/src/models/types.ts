import type { PiDhcpRetry, PiModelFiles, PiModelInfo, PiModelName, TftpPrefixMode } from '@bramble/pi';

/**
 * The models the simulator boots: every row of @bramble/pi's model table except the boards without
 * on-board Ethernet (3A+, Zero 2 W), which netboot only from bootcode.bin on an SD card.
 */
export type PiModel = Exclude<PiModelName, 'pi3a+' | 'pizero2w'>;

/** What a virtual Pi knows about itself when it builds its DHCP packets. */
export interface PiIdentity {
  serial: string; // 8 lowercase hex digits
  mac: string; // 'dc:a6:32:01:36:c2'
}

/**
 * The DHCP client behaviour of a boot ROM / EEPROM bootloader (pi-netboot.md §1.2-1.4, §2.3).
 * Everything here is bytes and rules, no code paths: dhcp-client.ts interprets it.
 */
export interface DhcpProfile {
  /** Option 60 (same string on every model). */
  vendorClass: string;
  /** Option 93, RFC 4578 §2.1 client system architecture (0 = x86 BIOS, what the Pi claims). */
  clientArch: number;
  /** Option 94, RFC 4578 §2.2 client network interface identifier: type 1, UNDI 2.1. */
  clientNdi: readonly [number, number, number];
  /** Option 55, parameter request list, in the ROM's order. */
  parameterList: readonly number[];
  /** Option 97, RFC 4578 §2.3 client machine identifier (type byte + 16 bytes). */
  uuid: (id: PiIdentity) => Buffer;
  /** A fixed xid (Pi 3 ROM: 0x26f30339 on every boot) or a random one per boot. */
  xid: { kind: 'fixed'; value: number } | { kind: 'random' };
  /** Pi 4/5 complete DORA; the Pi 3 ROM never sends DHCPREQUEST (boot-net.adoc "Known problems"). */
  sendsRequest: boolean;
  /** The Pi 4/5 DHCPREQUEST carries no option 60 (rpi-eeprom#82/#87). */
  requestHasVendorClass: boolean;
  /** DISCOVER timing and what follows the last (@bramble/pi's `boot.dhcpRetry`: Pi 3 5 × 5 s then halt; Pi 4/5 4 s for 45 s, then restart). */
  retry: PiDhcpRetry;
  /** The string option 43 must contain (@bramble/pi PI_BOOT_MENU_TEXT). */
  option43Match: string;
  /** Pi 3B (BCM2837A0) ROM string-length bug, from the model table's `boot.option43TrailingSpaces`. */
  option43NeedsTrailingSpaces: boolean;
}

/** The TFTP options one piece of firmware puts in its RRQs (pi-netboot.md §0.6, §1.5, §2.4). */
export interface TftpProfile {
  /** Human name, shown in reports ('boot ROM', 'bootcode.bin', 'EEPROM', 'start4.elf'). */
  stage: string;
  /** false = a plain RFC 1350 RRQ with no options at all (the Pi 3 ROM fetching bootcode.bin). */
  options: boolean;
  /** RFC 2348 blksize it asks for, if any. */
  blksize?: number;
  /** Per-file timeout: TFTP_FILE_TIMEOUT on Pi 4/5 (30 s default). */
  fileTimeoutMs: number;
  /** Retransmit timeout, seconds (client side). */
  retransmitTimeoutS: number;
  retries: number;
}

/**
 * File name with placeholders the boot state resolves: {start} {fixup} {dtb} {cmdline} {kernel} {initramfs}
 * ({kernel} may resolve to several candidates, tried in order). Plain names are used as-is.
 */
export type FileTemplate = string;

export type StepNeed =
  /** A real Pi stops if the file is missing: the verdict names it. */
  | 'required'
  /** Fetched when present, skipped silently when missing. */
  | 'optional'
  /** The firmware expects "file not found" here (bootsig.bin, recovery.elf, pieeprom.sig). */
  | 'expect-missing';

export type TftpStep =
  | {
      kind: 'select-prefix';
      /** Files probed under `<prefix>/`, in order; the first found keeps the prefix, else the prefix is cleared. */
      probes: readonly string[];
      profile: string;
      /** How many times each probe is sent (firmware sends `<serial>/start.elf` twice). */
      repeat?: number;
    }
  | {
      kind: 'file';
      file: FileTemplate;
      need: StepNeed;
      profile: string;
      /** Always from the TFTP root, even when a prefix is in use (bootcode.bin, bootsig.bin). */
      root?: boolean;
      /** tsize=0 existence probes ("Early terminate" after the OACK) before the real download. */
      probes?: number;
      /** Full downloads (config.txt is read several times). Default 1; 0 = probe only. */
      reads?: number;
      /** Parse the content as config.txt or cmdline.txt. */
      parse?: 'config' | 'cmdline';
      /** Only when the boot state has an initramfs / only when arm_64bit. */
      when?: 'initramfs' | 'arm64';
    }
  | {
      kind: 'overlays';
      profile: string;
      reads?: number;
    };

export interface ModelSpec {
  model: PiModel;
  /** Board facts from the @bramble/pi model table (see boardFacts()). */
  name: PiModelInfo['name'];
  soc: PiModelInfo['soc'];
  configFilters: PiModelInfo['configFilters'];
  boardRevision: PiModelInfo['boardRevision'];
  /** MAC OUI for generated MACs. */
  oui: PiModelInfo['oui'];
  /** TFTP directory prefix modes the firmware supports (Pi 3: serial only). */
  prefixModes: readonly TftpPrefixMode[];
  dhcp: DhcpProfile;
  tftp: Readonly<Record<string, TftpProfile>>;
  /** Default file names before config.txt changes them. */
  files: PiModelFiles;
  /** The boot sequence, in order. */
  sequence: readonly TftpStep[];
  /**
   * The Pi 4 firmware silently ignores config.txt when the TFTP server answered without an OACK (no RFC 2347
   * support): "the firmware will happily ACK the data-packets, but silently ignore the contents" (firmware#1012).
   */
  ignoresConfigWithoutOack: boolean;
}
