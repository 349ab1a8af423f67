/**
 * bootconf.txt: the bootloader configuration embedded in the EEPROM. Its syntax is config.txt's
 * (KEY=VALUE lines, `#` comments, `[filter]` sections, no spaces around `=`, later lines win) and
 * everything after a `[config.txt]` section is appended to the OS's config.txt instead.
 * The keys and their ranges are those of the Raspberry Pi documentation
 * `computers/raspberry-pi/eeprom-bootloader.adoc` ("Configuration properties").
 */
import { z } from 'zod';
import { EepromError } from './errors.js';
import { MAX_FILE_SIZE } from './format.js';

const flag = z.string().regex(/^[01]$/, 'expected 0 or 1');
const decimal = (min: number, max = 2 ** 31 - 1) =>
  z
    .string()
    .regex(/^-?\d{1,10}$/, 'expected a decimal number')
    .refine((v) => Number(v) >= min && Number(v) <= max, `expected a number in ${min}…${max}`);
const bitfield = z
  .string()
  .regex(/^(0x[0-9a-fA-F]{1,8}|\d{1,10})$/, 'expected a number (0x… hex or decimal)');
const octet = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const ipv4OrEmpty = z
  .string()
  .regex(new RegExp(`^(${octet}(\\.${octet}){3})?$`), 'expected a dotted IPv4 address (or empty)');
const text = (max: number) =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    .regex(/^[\x21-\x7e]*$/, 'printable characters without spaces');

/**
 * BOOT_ORDER: up to eight boot-mode nibbles read right to left: 0 SD-detect, 1 SD, 2 NETWORK,
 * 3 RPIBOOT, 4 USB-MSD, 5 BCM-USB-MSD, 6 NVMe, 7 HTTP, e STOP, f RESTART.
 */
export const BOOT_MODES: Readonly<Record<string, string>> = {
  '0': 'SD card detect',
  '1': 'SD card',
  '2': 'network',
  '3': 'RPIBOOT',
  '4': 'USB-MSD',
  '5': 'BCM-USB-MSD',
  '6': 'NVMe',
  '7': 'HTTP',
  e: 'stop',
  f: 'restart',
};
const bootOrder = z
  .string()
  .regex(/^0x[0-9a-fA-F]{1,8}$/, 'expected 0x followed by 1-8 boot-mode digits, e.g. 0xf21')
  .refine(
    (v) => [...v.slice(2).toLowerCase()].every((d) => d in BOOT_MODES),
    'boot-mode digits are 0-7, e (stop) and f (restart)',
  );

/** Every documented bootloader property, as the text value it has in bootconf.txt. */
export const BOOTCONF_KEYS = {
  BOOT_UART: flag,
  UART_BAUD: z.enum(['9600', '19200', '38400', '57600', '115200', '230400', '460800', '921600']),
  WAKE_ON_GPIO: z.string().regex(/^[012]$/, 'expected 0, 1 or 2'),
  POWER_OFF_ON_HALT: flag,
  WAIT_FOR_POWER_BUTTON: flag,
  BOOT_ORDER: bootOrder,
  BOOT_WATCHDOG_TIMEOUT: decimal(0),
  BOOT_WATCHDOG_PARTITION: decimal(0),
  MAX_RESTARTS: decimal(-1),
  REBOOT_ON_FATAL_ERROR: flag,
  SD_BOOT_MAX_RETRIES: decimal(-1),
  SD_OVERCURRENT_CHECK: flag,
  SD_QUIRKS: bitfield,
  NET_BOOT_MAX_RETRIES: decimal(-1),
  DHCP_TIMEOUT: decimal(5000),
  DHCP_REQ_TIMEOUT: decimal(500),
  TFTP_FILE_TIMEOUT: decimal(5000),
  TFTP_IP: ipv4OrEmpty,
  TFTP_PREFIX: z.enum(['0', '1', '2']),
  TFTP_PREFIX_STR: text(32),
  PXE_OPTION43: z
    .string()
    .max(64)
    .regex(/^[\x20-\x7e]*$/, 'printable ASCII'),
  DHCP_OPTION97: bitfield,
  MAC_ADDRESS: z
    .string()
    .regex(/^(([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2})?$/, 'expected a MAC address like dc:a6:32:01:36:c2'),
  MAC_ADDRESS_OTP: z.string().regex(/^([0-7],[0-7])?$/, 'expected two customer OTP rows, e.g. 0,1'),
  CLIENT_IP: ipv4OrEmpty,
  SUBNET: ipv4OrEmpty,
  GATEWAY: ipv4OrEmpty,
  DISABLE_HDMI: flag,
  HDMI_DELAY: decimal(0),
  ENABLE_SELF_UPDATE: flag,
  FREEZE_VERSION: flag,
  HTTP_HOST: z.string().regex(/^[a-z0-9.-]{0,253}$/, 'lower-case host name or IP address, no scheme or /'),
  HTTP_PORT: decimal(1, 65535),
  HTTP_PATH: text(128),
  HTTP_CACERT_HASH: z.string().regex(/^([0-9a-fA-F]{64})?$/, 'expected a SHA-256 hex digest'),
  IMAGER_REPO_URL: text(256),
  NET_INSTALL_ENABLED: flag,
  NET_INSTALL_AT_POWER_ON: flag,
  NET_INSTALL_KEYBOARD_WAIT: decimal(0),
  NETCONSOLE: text(32),
  PARTITION: decimal(0),
  PARTITION_WALK: flag,
  BOOTVAR0: bitfield,
  PCIE_PROBE: flag,
  PSU_MAX_CURRENT: decimal(0, 10000),
  USB_MSD_EXCLUDE_VID_PID: z
    .string()
    .regex(/^([0-9a-fA-F]{8}(,[0-9a-fA-F]{8}){0,3})?$/, 'up to four comma-separated VIDPID hex values'),
  USB_MSD_DISCOVER_TIMEOUT: decimal(5000),
  USB_MSD_LUN_TIMEOUT: decimal(100),
  USB_MSD_PWR_OFF_TIME: decimal(0, 5000),
  USB_MSD_STARTUP_DELAY: decimal(0, 30000),
  VL805: flag,
  XHCI_DEBUG: bitfield,
  SDRAM_BANKLOW: z.string().regex(/^[0-4]$/, 'expected 0-4'),
  /** Secure boot (usbboot secure-boot-recovery): the config is signed. */
  SIGNED_BOOT: flag,
} as const;

export type BootConfKey = keyof typeof BOOTCONF_KEYS;

/** Bootloader settings (text values as in bootconf.txt), every documented key optional, no others. */
export const BootConfSettings = z.object(
  Object.fromEntries(Object.entries(BOOTCONF_KEYS).map(([k, v]) => [k, v.optional()])) as {
    [K in BootConfKey]: z.ZodOptional<(typeof BOOTCONF_KEYS)[K]>;
  },
);
export type BootConfSettings = Partial<Record<BootConfKey, string>>;

export const isBootConfKey = (key: string): key is BootConfKey => Object.hasOwn(BOOTCONF_KEYS, key);

export interface BootConfLine {
  kind: 'setting' | 'section' | 'comment' | 'blank' | 'config-txt' | 'invalid';
  /** The line without its newline. */
  text: string;
  /** 1-based line number. */
  line: number;
  /** For settings: the key and value; for sections: the filter (`all`, `gpio7=0`, `config.txt`). */
  key?: string;
  value?: string;
  /** The filter of the section the line is in (`all` before any section header). */
  section: string;
}

/** Split bootconf.txt into lines; after `[config.txt]` every line is config.txt content. */
export function parseBootConf(text: string): BootConfLine[] {
  checkSize(text);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let section = 'all';
  return lines.map((raw, index): BootConfLine => {
    const line = index + 1;
    const content = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (section === 'config.txt') return { kind: 'config-txt', text: raw, line, section };
    if (content.trim() === '') return { kind: 'blank', text: raw, line, section };
    if (content.trimStart().startsWith('#')) return { kind: 'comment', text: raw, line, section };
    const header = /^\[([^\]]*)\]\s*$/.exec(content);
    if (header) {
      section = header[1]!;
      return { kind: 'section', text: raw, line, key: section, section };
    }
    const eq = content.indexOf('=');
    if (eq <= 0) return { kind: 'invalid', text: raw, line, section };
    return {
      kind: 'setting',
      text: raw,
      line,
      key: content.slice(0, eq),
      value: content.slice(eq + 1),
      section,
    };
  });
}

function checkSize(text: string): void {
  const size = new TextEncoder().encode(text).byteLength;
  if (size > MAX_FILE_SIZE) {
    throw new EepromError(
      'CONFIG_TOO_LARGE',
      `bootconf.txt is ${size} bytes; the bootloader holds at most ${MAX_FILE_SIZE} bytes`,
    );
  }
}

export interface ValidateOptions {
  /**
   * Keys the documentation does not list: 'reject' (default) or 'pass' (kept verbatim — for
   * properties newer than this list or undocumented ones you rely on).
   */
  unknownKeys?: 'reject' | 'pass';
}

/** Every problem of a bootconf.txt, one message per line ('' when it is fine). */
export function bootConfProblems(text: string, options: ValidateOptions = {}): string[] {
  const problems: string[] = [];
  for (const l of parseBootConf(text)) {
    if (l.kind === 'invalid') {
      problems.push(`line ${l.line}: '${l.text}' is not KEY=VALUE, a [filter] or a # comment`);
    } else if (l.kind === 'setting') {
      problems.push(...settingProblems(l.key!, l.value!, options).map((p) => `line ${l.line}: ${p}`));
    }
  }
  return problems;
}

function settingProblems(key: string, rawValue: string, options: ValidateOptions): string[] {
  const value = rawValue.endsWith('\r') ? rawValue.slice(0, -1) : rawValue;
  if (key !== key.trim() || value !== value.trimStart()) {
    return [`${key.trim()}: no spaces are allowed around '=' (the bootloader would not see the key)`];
  }
  if (!isBootConfKey(key)) {
    if (options.unknownKeys === 'pass' && /^[A-Za-z0-9_]+$/.test(key)) return [];
    return [
      `${key} is not a documented bootloader property${options.unknownKeys === 'pass' ? ' name' : ' (pass unknown keys explicitly to keep it)'}`,
    ];
  }
  const result = BOOTCONF_KEYS[key].safeParse(value);
  return result.success ? [] : result.error.issues.map((i) => `${key}=${value}: ${i.message}`);
}

/** Throws INVALID_CONFIG listing every problem. */
export function validateBootConf(text: string, options: ValidateOptions = {}): void {
  const problems = bootConfProblems(text, options);
  if (problems.length > 0) {
    throw new EepromError('INVALID_CONFIG', `invalid bootconf.txt: ${problems.join('; ')}`);
  }
}

/** Parse `KEY=VALUE` (as given to `--set`); throws INVALID_CONFIG. */
export function parseSetting(assignment: string, options: ValidateOptions = {}): [string, string] {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new EepromError('INVALID_CONFIG', `'${assignment}' is not KEY=VALUE`);
  const key = assignment.slice(0, eq);
  const value = assignment.slice(eq + 1);
  if (/[\r\n]/.test(value)) throw new EepromError('INVALID_CONFIG', `${key}: a value is one line`);
  const problems = settingProblems(key, value, options);
  if (problems.length > 0) throw new EepromError('INVALID_CONFIG', problems.join('; '));
  return [key, value];
}

/** Lines that apply to every board: before any filter, or under `[all]`. */
const unconditional = (l: BootConfLine) => l.section === 'all';

/** The settings that apply to every board (later lines win), e.g. to check TFTP_PREFIX. */
export function effectiveSettings(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of parseBootConf(text)) {
    if (l.kind === 'setting' && unconditional(l)) out[l.key!] = l.value!.replace(/\r$/, '');
  }
  return out;
}

/**
 * Set (string) or remove (null) keys in the unconditional part of bootconf.txt: the first
 * unconditional line of a key is replaced and later unconditional duplicates dropped; a new key is
 * added at the end of the first unconditional block. Lines under other filters and comments are kept.
 */
export function setBootConf(text: string, settings: Readonly<Record<string, string | null>>): string {
  const parsed = parseBootConf(text);
  const entries: (BootConfLine & { dropped?: boolean })[] =
    parsed.length > 0 ? parsed : parseBootConf('[all]\n');
  for (const [key, value] of Object.entries(settings)) {
    let replaced = false;
    for (const e of entries) {
      if (e.kind !== 'setting' || e.key !== key || !unconditional(e) || e.dropped) continue;
      if (!replaced && value !== null) {
        e.text = `${key}=${value}`;
        e.value = value;
        replaced = true;
      } else e.dropped = true;
    }
    if (!replaced && value !== null) {
      const at = endOfFirstUnconditionalBlock(entries);
      entries.splice(at, 0, {
        kind: 'setting',
        text: `${key}=${value}`,
        line: 0,
        key,
        value,
        section: 'all',
      });
    }
  }
  const result = `${entries
    .filter((e) => !e.dropped)
    .map((e) => e.text)
    .join('\n')}\n`;
  checkSize(result);
  return result;
}

/** Index after the last non-blank line of the first run of unconditional lines. */
function endOfFirstUnconditionalBlock(lines: readonly (BootConfLine & { dropped?: boolean })[]): number {
  let end = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!unconditional(l)) break;
    if (l.kind !== 'blank' && !l.dropped) end = i + 1;
  }
  return end;
}
