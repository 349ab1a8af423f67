/**
 * The node's TFTP directory: the one name the firmware asks for (pi-netboot.md §0.5, §1.6, §2.2) —
 * `<serial>/` (8 lowercase hex digits, the default on every model) or, with the Pi 4/5 EEPROM's
 * TFTP_PREFIX=2, the MAC as `dc-a6-32-01-36-c2/`.
 */
import { PiError } from './errors.js';
import { macDirName, normaliseMac } from './mac.js';
import { PI_MODEL_TABLE, PI_MODELS, type PiFamily } from './models.js';
import { normaliseSerial } from './serial.js';

export interface TftpDirSource {
  serial?: string | undefined;
  mac?: string | undefined;
  /** By serial (the firmware default, used when there is a serial) or by MAC (EEPROM TFTP_PREFIX=2). */
  tftpPrefix?: 'serial' | 'mac' | undefined;
}

/**
 * The directory name of a node: its serial unless `tftpPrefix` is 'mac' or it has no serial, then its
 * MAC with dashes. Throws PiError('NO_NODE_ID') when the chosen identifier is missing.
 */
export function tftpDirName(node: TftpDirSource): string {
  const byMac = node.tftpPrefix === 'mac' || (node.tftpPrefix === undefined && node.serial === undefined);
  if (byMac) {
    if (node.mac === undefined) {
      throw new PiError('NO_NODE_ID', 'a node named by MAC (tftpPrefix mac, or no serial) needs a mac');
    }
    return macDirName(node.mac);
  }
  if (node.serial === undefined) throw new PiError('NO_NODE_ID', "tftpPrefix 'serial' needs a serial");
  return normaliseSerial(node.serial);
}

/** What a TFTP path says about the Pi asking: its per-node prefix and the path below it. */
export interface TftpPath {
  prefix?: { kind: 'serial'; serial: string } | { kind: 'mac'; mac: string };
  /** Path below the prefix (or the whole path), without leading slashes. */
  rest: string;
}

const SERIAL_DIR = /^[0-9a-f]{8}$/;
const MAC_DIR = /^([0-9a-f]{2}-){5}[0-9a-f]{2}$/;

/** Split `7a1b2c3d/start4.elf` or `dc-a6-32-01-36-c2/config.txt` into prefix and rest. */
export function parseTftpPath(file: string): TftpPath {
  const clean = file.replace(/\\/g, '/').replace(/^\/+/, '');
  const slash = clean.indexOf('/');
  if (slash <= 0) return { rest: clean };
  const head = clean.slice(0, slash).toLowerCase();
  const rest = clean.slice(slash + 1);
  if (SERIAL_DIR.test(head)) return { prefix: { kind: 'serial', serial: head }, rest };
  if (MAC_DIR.test(head)) return { prefix: { kind: 'mac', mac: normaliseMac(head) }, rest };
  return { rest: clean };
}

/**
 * The family whose firmware asks for this file first under its prefix: `start.elf` (Pi 3
 * bootcode.bin), `start4.elf` (Pi 4 EEPROM), `config.txt` (Pi 5), from the model table's probes;
 * `pieeprom.sig` is the Pi 5's next request.
 */
export function familyFromFirstFile(rest: string): PiFamily | 'unknown' {
  const file = rest.toLowerCase();
  if (file === 'bootcode.bin') return 'pi3';
  if (file === 'pieeprom.sig') return 'pi5';
  for (const name of PI_MODELS) {
    const info = PI_MODEL_TABLE[name];
    if (info.boot.prefixProbes[0] === file) return info.family;
  }
  return 'unknown';
}
