/**
 * Replace a modifiable file and set the self-update timestamp, byte for byte as rpi-eeprom-config's
 * `BootloaderImage.update()` and `set_timestamp()` do. Works on a copy: the input is never modified.
 */
import { EepromError } from './errors.js';
import {
  BOOTCONF_TXT,
  ERASE_ALIGN_SIZE,
  FILE_DATA_OFFSET,
  FILE_HDR_LEN,
  FILE_LENGTH_OVERHEAD,
  MAX_FILE_SIZE,
  PAD_MAGIC,
  PARTITION_SIZE,
  READ_ONLY_SIZE,
  UPDATE_TIME_FILENAME,
} from './format.js';
import { type EepromImage, findFile, parseImage } from './image.js';

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Largest update timestamp: it is stored as a little-endian u32 (`struct.pack_into('<L', …)`). */
export const MAX_TIMESTAMP = 0xffffffff;

export function checkTimestamp(timestamp: number): number {
  if (!Number.isInteger(timestamp) || timestamp < 0 || timestamp > MAX_TIMESTAMP) {
    throw new EepromError(
      'INVALID_TIMESTAMP',
      `update timestamp ${timestamp} is not a whole number of seconds since 1970 in 0…${MAX_TIMESTAMP}`,
    );
  }
  return timestamp;
}

/**
 * `update()` for a file other than bootcode.bin: the file is looked up after the read-only section
 * of an AB image ([64 KiB, 64 KiB + 988 KiB)), its length and contents replaced, the tail up to the
 * 8-byte boundary set to 0xff, and — unless it is the last section — the gap up to the next
 * non-padding section turned into one padding section whose old contents are erased to 0xff.
 */
export function replaceFile(image: EepromImage, filename: string, contents: Uint8Array): EepromImage {
  if (contents.byteLength > MAX_FILE_SIZE) {
    throw new EepromError(
      'CONFIG_TOO_LARGE',
      `${filename} is too large (${contents.byteLength} bytes); the maximum is ${MAX_FILE_SIZE} bytes (one 4 KiB erase sector less its header)`,
    );
  }
  const bytes = new Uint8Array(image.bytes);
  const dv = view(bytes);
  const at = findFile(image, filename, { start: READ_ONLY_SIZE, end: READ_ONLY_SIZE + PARTITION_SIZE });
  if (at.offset < 0) {
    throw new EepromError('FILE_NOT_FOUND', `update target ${filename} not found in the EEPROM image`);
  }
  const updateLength = contents.byteLength + FILE_HDR_LEN;
  const usableEnd = bytes.byteLength - ERASE_ALIGN_SIZE;
  if (at.offset + updateLength > usableEnd) {
    throw new EepromError(
      'NO_SPACE',
      `no space available: ${filename} needs ${updateLength} bytes, ${usableEnd - at.offset} available`,
    );
  }
  if (at.offset + updateLength > at.nextOffset) {
    throw new EepromError(
      'NO_SPACE',
      `${filename} (${updateLength} bytes) is larger than its section (${at.nextOffset - at.offset} bytes)`,
    );
  }
  dv.setUint32(at.offset + 4, contents.byteLength + FILE_LENGTH_OVERHEAD);
  bytes.set(contents, at.offset + FILE_DATA_OFFSET);
  let padStart = at.offset + FILE_DATA_OFFSET + contents.byteLength;
  // "Add padding up to 8-byte boundary"
  while (padStart % 8 !== 0) bytes[padStart++] = 0xff;
  // "Create a padding section unless the padding size is smaller than the size of a section head"
  let padBytes = at.nextOffset - padStart;
  if (padBytes >= 8 && !at.isLast) {
    padBytes -= 8;
    dv.setInt32(padStart, PAD_MAGIC);
    dv.setInt32(padStart + 4, padBytes);
    padStart += 8;
  }
  if (padBytes > 0) bytes.fill(0xff, padStart, padStart + padBytes);
  return parseImage(bytes);
}

/**
 * `set_timestamp()`: the self-update timestamp the bootloader compares with pieeprom.sig's `ts:`.
 * Written as `~ts`, `ts` (little-endian u32) into the `updatetime` file of the read-only section and
 * of the first partition; an image without one in the read-only section (Pi 4) keeps it in its last
 * 8 bytes instead.
 */
export function setTimestamp(image: EepromImage, timestamp: number): EepromImage {
  const ts = checkTimestamp(timestamp);
  const inverted = ~ts >>> 0;
  const bytes = new Uint8Array(image.bytes);
  const dv = view(bytes);
  const readOnly = findFile(image, UPDATE_TIME_FILENAME, { start: 0, end: READ_ONLY_SIZE });
  if (readOnly.offset < 0) {
    dv.setUint32(bytes.byteLength - 4, ts, true);
    dv.setUint32(bytes.byteLength - 8, inverted, true);
    return parseImage(bytes);
  }
  const partition = findFile(image, UPDATE_TIME_FILENAME, {
    start: READ_ONLY_SIZE,
    end: READ_ONLY_SIZE + PARTITION_SIZE,
  });
  if (partition.offset < 0) {
    throw new EepromError('FILE_NOT_FOUND', 'failed to find the update time file in the partition');
  }
  for (const at of [readOnly, partition]) {
    if (at.length - FILE_LENGTH_OVERHEAD < 8) {
      throw new EepromError(
        'SECTION_OUT_OF_RANGE',
        `updatetime at offset ${at.offset} is shorter than the 8 bytes of a timestamp`,
      );
    }
    dv.setUint32(at.offset + FILE_DATA_OFFSET, inverted, true);
    dv.setUint32(at.offset + FILE_DATA_OFFSET + 4, ts, true);
  }
  return parseImage(bytes);
}

/** Replace bootconf.txt (`rpi-eeprom-config --config FILE`). */
export function replaceBootConf(image: EepromImage, config: string | Uint8Array): EepromImage {
  const contents = typeof config === 'string' ? new TextEncoder().encode(config) : config;
  return replaceFile(image, BOOTCONF_TXT, contents);
}
