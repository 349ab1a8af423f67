/**
 * The bootloader EEPROM image format, as the official tool reads and writes it. Every rule here is
 * taken from raspberrypi/rpi-eeprom `rpi-eeprom-config` (HEAD 86759b0; the same file is in
 * /work/shared/reference/rpi-eeprom/), cited by the Python name beside it.
 *
 * An image is a chain of sections. Each starts with a big-endian u32 magic and a big-endian u32
 * length of the data after those 8 bytes; the next section starts at the following 8-byte boundary
 * (`parse()`: `offset += 8 + length; offset = (offset + 7) & ~7`). A magic of 0 or 0xffffffff ends
 * the chain (erased flash). Modifiable files (`FILE_MAGIC`) carry a 12-byte NUL-padded name and 4
 * further header bytes; their length counts name + those 4 bytes + contents
 * (`update()`: `new_len = len(src_bytes) + FILENAME_LEN + 4`, contents at `hdr_offset + 4 + FILE_HDR_LEN`).
 */

/** `VALID_IMAGE_SIZES`: 512 KiB (BCM2711: Pi 4, 400, CM4) and 2 MiB (BCM2712: Pi 5, 500, CM5). */
export const IMAGE_SIZE_2711 = 512 * 1024;
export const IMAGE_SIZE_2712 = 2 * 1024 * 1024;

/** `MAGIC`: the first section (bootcode) and the family every section magic belongs to under `MAGIC_MASK`. */
export const MAGIC = 0x55aaf00f;
/** `PAD_MAGIC`: padding between sections. */
export const PAD_MAGIC = 0x55aafeef;
/** `MAGIC_MASK`: `(magic & MAGIC_MASK) != MAGIC` means the EEPROM is corrupted. */
export const MAGIC_MASK = 0xfffff00f;
/** `FILE_MAGIC`: a modifiable file (bootconf.txt, pubkey.bin, updatetime, …). */
export const FILE_MAGIC = 0x55aaf11f;
/** `FILE_HDR_LEN`: magic + length + 12-byte file name. */
export const FILE_HDR_LEN = 20;
/** `FILENAME_LEN`. */
export const FILENAME_LEN = 12;
/** Where a file's contents start, relative to its section header (`hdr_offset + 4 + FILE_HDR_LEN`). */
export const FILE_DATA_OFFSET = 4 + FILE_HDR_LEN;
/** Bytes of a file section's length that are not contents (`length - FILENAME_LEN - 4`). */
export const FILE_LENGTH_OVERHEAD = FILENAME_LEN + 4;
/**
 * `ERASE_ALIGN_SIZE`: modifiable files live in one 4 KiB erase sector, and the last 4 KiB of the image
 * is the bootloader's scratch page (no padding or file may reach into it).
 */
export const ERASE_ALIGN_SIZE = 4096;
/** `MAX_FILE_SIZE`: 4096 - 20 = 4076 bytes of bootconf.txt at most. */
export const MAX_FILE_SIZE = ERASE_ALIGN_SIZE - FILE_HDR_LEN;
/** `READ_ONLY_SIZE`: an AB (Pi 5) image's read-only section; modifiable files are searched after it. */
export const READ_ONLY_SIZE = 64 * 1024;
/** `PARTITION_SIZE`: the first (populated) partition of an AB image. */
export const PARTITION_SIZE = 988 * 1024;

/** `BOOTCONF_TXT` and the other well-known file names. */
export const BOOTCONF_TXT = 'bootconf.txt';
/** `UPDATE_TIME_FILENAME`: the self-update timestamp file. */
export const UPDATE_TIME_FILENAME = 'updatetime';
/** `BOOTSYS_BIN`: present in AB-capable (Pi 5) images. */
export const BOOTSYS_BIN = 'bootsys';
