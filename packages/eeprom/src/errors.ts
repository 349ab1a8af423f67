/**
 * Every error @bramble/eeprom throws is an EepromError with a stable `code`.
 * Messages say what was expected, what was found, and what to do.
 */
export type EepromErrorCode =
  /** The file is not 512 KiB (Pi 4 family) or 2 MiB (Pi 5 family). */
  | 'BAD_SIZE'
  /** A section header does not carry the 0x55aaf00f family magic. */
  | 'BAD_MAGIC'
  /** A section's length points past the end of the image, or a file section is shorter than its header. */
  | 'SECTION_OUT_OF_RANGE'
  /** A file section's name is not valid UTF-8. */
  | 'BAD_FILENAME'
  /** The image has no such modifiable file (e.g. no bootconf.txt). */
  | 'FILE_NOT_FOUND'
  /** The new bootconf.txt is larger than the 4076 bytes one erase sector holds. */
  | 'CONFIG_TOO_LARGE'
  /** The new file does not fit before the next section / the bootloader's scratch sector. */
  | 'NO_SPACE'
  /** bootconf.txt text or a setting failed validation (unknown key, bad value). */
  | 'INVALID_CONFIG'
  /** An update timestamp outside 0 … 2^32-1. */
  | 'INVALID_TIMESTAMP'
  /** A pieeprom.sig that is not `<sha256>\nts: N\n…`, or whose hash does not match the image. */
  | 'INVALID_SIGNATURE'
  /** The image is for the other SoC than the node's model (Pi 4 image for a Pi 5 or vice versa), or a Pi 3. */
  | 'MODEL_MISMATCH'
  /** A bootconf.txt TFTP_PREFIX / TFTP_PREFIX_STR that does not match the node's Bramble TFTP directory. */
  | 'PREFIX_MISMATCH'
  /** A config rolled out over the network whose BOOT_ORDER has no network boot (the node would not come back). */
  | 'NO_NETWORK_BOOT'
  /** recovery.bin missing, empty or implausibly large. */
  | 'INVALID_RECOVERY'
  /** Reading or writing a file failed. */
  | 'IO';

export class EepromError extends Error {
  readonly code: EepromErrorCode;
  constructor(code: EepromErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EepromError';
    this.code = code;
  }
}
