/**
 * Parse a bootloader EEPROM image into its sections and read its modifiable files. The walk and the
 * file look-up follow `BootloaderImage.parse()` / `find_file()` / `get_file()` of rpi-eeprom-config;
 * where the Python tool would crash or read past the file on hostile input, this throws EepromError.
 */
import { EepromError } from './errors.js';
import {
  BOOTCONF_TXT,
  BOOTSYS_BIN,
  ERASE_ALIGN_SIZE,
  FILE_DATA_OFFSET,
  FILE_HDR_LEN,
  FILE_LENGTH_OVERHEAD,
  FILE_MAGIC,
  IMAGE_SIZE_2711,
  IMAGE_SIZE_2712,
  MAGIC,
  MAGIC_MASK,
  PAD_MAGIC,
} from './format.js';

/** BCM2711 (Pi 4, Pi 400, CM4) or BCM2712 (Pi 5, Pi 500, CM5). */
export type Chip = '2711' | '2712';

export interface Section {
  /** Big-endian u32 magic (`0x55aaf00f` bootcode, `0x55aafeef` padding, `0x55aaf11f` file, …). */
  magic: number;
  /** Offset of the section header in the image. */
  offset: number;
  /** Length of the data after the 8-byte magic + length header. */
  length: number;
  /** File name of a `FILE_MAGIC` section ('' otherwise). */
  filename: string;
}

export interface EepromImage {
  /** The image bytes (a private copy; never modified). */
  readonly bytes: Uint8Array;
  readonly chip: Chip;
  readonly sections: readonly Section[];
  /** An AB image (Pi 5, with a `bootsys` file): `_is_ab_image`. */
  readonly isAbImage: boolean;
}

/** Where a modifiable file is (`find_file()`): offset -1 when absent. */
export interface FileLocation {
  offset: number;
  length: number;
  /** The file is the image's last section (no padding section is written after it). */
  isLast: boolean;
  /** Start of the next non-padding section, or the end of the usable area. */
  nextOffset: number;
}

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const filenameDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The SoC an image is for, from its size (`VALID_IMAGE_SIZES`; rpi-eeprom-update's EEPROM_SIZE per BCM_CHIP). */
export function chipOfSize(size: number): Chip {
  if (size === IMAGE_SIZE_2711) return '2711';
  if (size === IMAGE_SIZE_2712) return '2712';
  throw new EepromError(
    'BAD_SIZE',
    `not a bootloader EEPROM image: expected ${IMAGE_SIZE_2711} bytes (Pi 4/400/CM4) or ${IMAGE_SIZE_2712} bytes (Pi 5/500/CM5), got ${size}; use a pieeprom-*.bin from the rpi-eeprom package`,
  );
}

/**
 * Walk the section chain (`parse()`). Each step advances at least 8 bytes, so the walk ends after at
 * most size/8 sections.
 */
export function parseImage(input: Uint8Array): EepromImage {
  const chip = chipOfSize(input.byteLength);
  const bytes = new Uint8Array(input);
  const dv = view(bytes);
  const size = bytes.byteLength;
  const sections: Section[] = [];
  let offset = 0;
  while (offset < size) {
    const magic = dv.getUint32(offset);
    const length = dv.getUint32(offset + 4);
    if (magic === 0 || magic === 0xffffffff) break; // erased flash: end of the chain
    if ((magic & MAGIC_MASK) >>> 0 !== MAGIC) {
      throw new EepromError(
        'BAD_MAGIC',
        `EEPROM image is corrupted: section at offset ${offset} has magic ${hex(magic)}, expected ${hex(MAGIC)} under mask ${hex(MAGIC_MASK)}`,
      );
    }
    if (offset + 8 + length > size) {
      throw new EepromError(
        'SECTION_OUT_OF_RANGE',
        `EEPROM image is corrupted: section at offset ${offset} claims ${length} bytes, past the end of the ${size}-byte image`,
      );
    }
    let filename = '';
    if (magic === FILE_MAGIC) {
      if (length < FILE_LENGTH_OVERHEAD) {
        throw new EepromError(
          'SECTION_OUT_OF_RANGE',
          `EEPROM image is corrupted: file section at offset ${offset} is ${length} bytes, shorter than its ${FILE_LENGTH_OVERHEAD}-byte name header`,
        );
      }
      filename = decodeFilename(bytes.subarray(offset + 8, offset + FILE_HDR_LEN), offset);
    }
    sections.push({ magic, offset, length, filename });
    offset = alignUp8(offset + 8 + length);
  }
  return { bytes, chip, sections, isAbImage: sections.some((s) => s.filename === BOOTSYS_BIN) };
}

/** `(offset + 7) & ~7` without 32-bit wrap-around. */
export const alignUp8 = (n: number) => Math.ceil(n / 8) * 8;

/** `decode('utf-8').replace('\0', '')`: every NUL is dropped, not only trailing ones. */
function decodeFilename(raw: Uint8Array, offset: number): string {
  try {
    return filenameDecoder.decode(raw).replaceAll('\0', '');
  } catch (cause) {
    throw new EepromError('BAD_FILENAME', `file section at offset ${offset} has a name that is not UTF-8`, {
      cause,
    });
  }
}

/**
 * Locate a modifiable file (`find_file()` for anything but bootcode.bin): the first file section of
 * that name whose header lies in [rangeStart, rangeEnd); `nextOffset` is the next section that is not
 * padding, else the end of the range, never inside the last 4 KiB scratch page.
 */
export function findFile(
  image: EepromImage,
  filename: string,
  range: { start?: number; end?: number } = {},
): FileLocation {
  const { sections } = image;
  let nextOffset = image.bytes.byteLength - ERASE_ALIGN_SIZE;
  if (range.end !== undefined) nextOffset = Math.min(nextOffset, range.end);
  const index = sections.findIndex(
    (s) =>
      (range.start === undefined || s.offset >= range.start) &&
      (range.end === undefined || s.offset < range.end) &&
      s.magic === FILE_MAGIC &&
      s.filename === filename,
  );
  if (index < 0) return { offset: -1, length: -1, isLast: false, nextOffset };
  const found = sections[index]!;
  const next = sections.slice(index + 1).find((s) => s.magic !== PAD_MAGIC);
  return {
    offset: found.offset,
    length: found.length,
    isLast: index === sections.length - 1,
    nextOffset: next ? next.offset : nextOffset,
  };
}

/** The contents of a modifiable file (`get_file()`); throws FILE_NOT_FOUND when the image has none. */
export function readImageFile(image: EepromImage, filename: string): Uint8Array {
  const at = findFile(image, filename);
  if (at.offset < 0) {
    throw new EepromError('FILE_NOT_FOUND', `the EEPROM image has no ${filename} section`);
  }
  const start = at.offset + FILE_DATA_OFFSET;
  const end = start + at.length - FILE_LENGTH_OVERHEAD;
  if (end > image.bytes.byteLength) {
    throw new EepromError(
      'SECTION_OUT_OF_RANGE',
      `${filename} at offset ${at.offset} extends past the end of the image`,
    );
  }
  return image.bytes.slice(start, end);
}

/** The embedded bootconf.txt as text (`rpi-eeprom-config FILE`). */
export function readBootConf(image: EepromImage | Uint8Array): string {
  const parsed = image instanceof Uint8Array ? parseImage(image) : image;
  return new TextDecoder('utf-8').decode(readImageFile(parsed, BOOTCONF_TXT));
}
