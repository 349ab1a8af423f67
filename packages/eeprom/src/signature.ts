/**
 * pieeprom.sig, as raspberrypi/rpi-eeprom `rpi-eeprom-digest` writes it (`writeSig()`, HEAD 86759b0):
 *
 *   sha256sum "${IMAGE}" | awk '{print $1}' > "${OUTPUT}"      → the lowercase hex digest
 *   echo "ts: ${SOURCE_DATE_EPOCH}"  (else `date -u +%s`)      → the update timestamp
 *   echo "target-soc: ${TARGET_SOC}" (only with -c 2711|2712)   → rpi-eeprom-update always passes -c
 *
 * The bootloader's self-update only applies pieeprom.upd when the sig's `ts` is newer than the
 * update-timestamp already in its EEPROM (firmware-2711 release notes 2020-10-28: "SELF_UPDATE mode
 * … reads the timestamp information in pieeprom.sig … If not, the update is skipped"). The digest is
 * a guard against file-system corruption, not a security check (rpi-eeprom-update -h).
 */
import { createHash } from 'node:crypto';
import { EepromError } from './errors.js';
import type { Chip } from './image.js';
import { checkTimestamp } from './write.js';

export interface SignatureOptions {
  /** The `ts:` line: seconds since 1970 (rpi-eeprom-digest: SOURCE_DATE_EPOCH, else the current time). */
  timestamp: number;
  /** The `target-soc:` line (rpi-eeprom-digest -c); omitted when undefined. */
  targetSoc?: Chip | undefined;
}

export interface Signature {
  sha256: string;
  timestamp: number;
  targetSoc?: Chip;
}

export const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The text of the .sig file for `image`. */
export function signatureText(image: Uint8Array, options: SignatureOptions): string {
  const ts = checkTimestamp(options.timestamp);
  const lines = [sha256Hex(image), `ts: ${ts}`];
  if (options.targetSoc !== undefined) lines.push(`target-soc: ${options.targetSoc}`);
  return `${lines.join('\n')}\n`;
}

/** Largest .sig accepted: digest, ts, target-soc and an RSA signature line fit in far less. */
const MAX_SIG_BYTES = 4096;

/** Parse a .sig file; unknown lines (e.g. `rsa2048:`) are ignored as the bootloader does. */
export function parseSignature(text: string): Signature {
  if (text.length > MAX_SIG_BYTES) {
    throw new EepromError(
      'INVALID_SIGNATURE',
      `signature file is ${text.length} bytes, expected a few lines`,
    );
  }
  const lines = text.split('\n');
  const digest = lines[0]?.trim() ?? '';
  if (!/^[0-9a-f]{64}$/.test(digest)) {
    throw new EepromError('INVALID_SIGNATURE', 'the first line of a .sig file must be a SHA-256 hex digest');
  }
  const field = (name: string) =>
    lines
      .find((l) => l.startsWith(`${name}: `))
      ?.slice(name.length + 2)
      .trim();
  const ts = field('ts');
  if (ts === undefined || !/^\d{1,10}$/.test(ts) || Number(ts) > 0xffffffff) {
    throw new EepromError('INVALID_SIGNATURE', "a .sig file needs a 'ts: <seconds>' line");
  }
  const soc = field('target-soc');
  return {
    sha256: digest,
    timestamp: Number(ts),
    ...(soc === '2711' || soc === '2712' ? { targetSoc: soc } : {}),
  };
}

/** Throws INVALID_SIGNATURE unless `sig` is the digest of `image`. */
export function verifySignature(image: Uint8Array, sig: Signature): void {
  const actual = sha256Hex(image);
  if (actual !== sig.sha256) {
    throw new EepromError(
      'INVALID_SIGNATURE',
      `pieeprom.sig says sha256 ${sig.sha256} but the image hashes to ${actual} (a stale or half-copied update)`,
    );
  }
}
