/**
 * The update files on disk: reading a pieeprom-*.bin, writing pieeprom.upd/.sig atomically (the
 * image first, its .sig last, so a bootloader that finds the .sig also finds the whole image), the
 * SD-card recovery layout, and placing / inspecting / removing an update in a node's TFTP directory.
 */
import { constants } from 'node:fs';
import { copyFile, lstat, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { effectiveSettings } from './bootconf.js';
import { EepromError } from './errors.js';
import { type Chip, chipOfSize, type EepromImage, parseImage, readBootConf } from './image.js';
import { configTxtBlocksSelfUpdate } from './self-update.js';
import { parseSignature, sha256Hex } from './signature.js';
import type { UpdateFiles } from './update.js';

export const UPDATE_IMAGE_NAME = 'pieeprom.upd';
export const UPDATE_SIG_NAME = 'pieeprom.sig';
export const RECOVERY_BIN_NAME = 'recovery.bin';

/** recovery.bin is ~100-200 KiB; anything beyond this is not one. */
export const MAX_RECOVERY_BIN = 4 * 1024 * 1024;

function ioError(what: string, cause: unknown): EepromError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new EepromError('IO', `${what}: ${message}`, { cause });
}

/** Read and parse a pieeprom-*.bin / pieeprom.upd; the size is checked before anything is read. */
export async function readEepromImage(path: string): Promise<EepromImage> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (cause) {
    throw ioError(`cannot read ${path}`, cause);
  }
  chipOfSize(size);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw ioError(`cannot read ${path}`, cause);
  }
  return parseImage(bytes);
}

/** Read a UTF-8 text file of at most `max` bytes (bootconf.txt, .sig) without reading more than that. */
export async function readSmallText(path: string, max: number, code: 'INVALID_CONFIG' | 'INVALID_SIGNATURE') {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw ioError(`cannot read ${path}`, cause);
  }
  try {
    const buffer = Buffer.alloc(max + 1);
    const { bytesRead } = await handle.read(buffer, 0, max + 1, 0);
    if (bytesRead > max) {
      throw new EepromError(
        code === 'INVALID_CONFIG' ? 'CONFIG_TOO_LARGE' : code,
        `${path} is larger than ${max} bytes`,
      );
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, bytesRead));
    } catch (cause) {
      throw new EepromError(code, `${path} is not UTF-8 text`, { cause });
    }
  } finally {
    await handle.close();
  }
}

/** Write via a temporary file + rename, mode 0644 (rpi-eeprom-update: `chmod go+r` for the TFTP user). */
async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, data, { mode: 0o644 });
    await rename(tmp, path);
  } catch (cause) {
    await rm(tmp, { force: true });
    throw ioError(`cannot write ${path}`, cause);
  }
}

export interface WriteOptions {
  /** Create `dir` (and its parents) when missing; default false (a node's TFTP directory must exist). */
  mkdir?: boolean;
}

async function ensureDir(dir: string, options: WriteOptions): Promise<void> {
  if (!options.mkdir) return;
  try {
    await mkdir(dir, { recursive: true });
  } catch (cause) {
    throw ioError(`cannot create ${dir}`, cause);
  }
}

/** Write pieeprom.upd then pieeprom.sig into `dir`; returns the paths. */
export async function writeUpdateFiles(
  dir: string,
  files: UpdateFiles,
  options: WriteOptions = {},
): Promise<{ image: string; signature: string }> {
  await ensureDir(dir, options);
  const image = join(dir, UPDATE_IMAGE_NAME);
  const signature = join(dir, UPDATE_SIG_NAME);
  await writeAtomic(image, files.image);
  await writeAtomic(signature, files.signature);
  return { image, signature };
}

export interface RecoveryOptions extends WriteOptions {
  /** recovery.bin for the image's SoC (rpi-eeprom firmware-2711/… or firmware-2712/…/recovery.bin). */
  recoveryBin: string;
  /**
   * Keep the card usable for board after board: config.txt `recovery_wait=1` makes recovery.bin
   * neither rename itself nor reboot, and flash the activity LED when done (release notes 2711
   * 2020-07-16, 2712 2025-11-21 "recovery: Restore recovery_wait option").
   */
  multiBoard?: boolean;
}

/**
 * The SD-card recovery layout for a new board (FAT partition, < 32 GB): recovery.bin, pieeprom.upd,
 * pieeprom.sig — what rpi-eeprom-update writes to the boot partition when it does not use
 * self-update; the boot ROM runs recovery.bin, which flashes pieeprom.upd and renames itself to
 * recovery.000.
 */
export async function writeRecoveryFiles(
  dir: string,
  files: UpdateFiles,
  options: RecoveryOptions,
): Promise<string[]> {
  let size: number;
  try {
    size = (await stat(options.recoveryBin)).size;
  } catch (cause) {
    throw new EepromError('INVALID_RECOVERY', `cannot read recovery.bin ${options.recoveryBin}`, { cause });
  }
  if (size === 0 || size > MAX_RECOVERY_BIN) {
    throw new EepromError(
      'INVALID_RECOVERY',
      `${options.recoveryBin} is ${size} bytes, not a recovery.bin (take it from the rpi-eeprom firmware-${files.chip} directory)`,
    );
  }
  const written = await writeUpdateFiles(dir, files, options);
  const recovery = join(dir, RECOVERY_BIN_NAME);
  const tmp = `${recovery}.${process.pid}.tmp`;
  try {
    await copyFile(options.recoveryBin, tmp, constants.COPYFILE_FICLONE);
    await rename(tmp, recovery);
  } catch (cause) {
    await rm(tmp, { force: true });
    throw ioError(`cannot write ${recovery}`, cause);
  }
  const out = [recovery, written.image, written.signature];
  if (options.multiBoard) {
    const configTxt = join(dir, 'config.txt');
    await writeAtomic(configTxt, 'recovery_wait=1\n');
    out.push(configTxt);
  }
  return out;
}

export interface UpdateStatus {
  /** pieeprom.upd and pieeprom.sig are both there. */
  present: boolean;
  /** The .sig matches the image (false for a stale or half-copied pair). */
  valid: boolean;
  chip?: Chip;
  timestamp?: number;
  sha256?: string;
  /** Settings of the embedded bootconf.txt that apply to every board. */
  settings?: Record<string, string>;
  /**
   * When pieeprom.upd was first read after it was placed (Unix ms): its atime once it is newer than
   * its mtime. The bootloader reads pieeprom.sig on every boot but fetches pieeprom.upd only when it
   * will apply it, so this marks the node taking the update. Needs a relatime or strictatime mount
   * (Linux default); on noatime it stays undefined. Status itself reads with O_NOATIME.
   */
  fetchedAt?: number;
  /** Why the pair is not valid. */
  problem?: string;
}

const exists = async (path: string) =>
  lstat(path).then(
    () => true,
    () => false,
  );

/** Inspect the update files in a (node's TFTP) directory. */
export async function updateStatus(dir: string): Promise<UpdateStatus> {
  const imagePath = join(dir, UPDATE_IMAGE_NAME);
  const sigPath = join(dir, UPDATE_SIG_NAME);
  const [hasImage, hasSig] = await Promise.all([exists(imagePath), exists(sigPath)]);
  if (!hasImage && !hasSig) return { present: false, valid: false };
  if (!hasImage || !hasSig) {
    return {
      present: false,
      valid: false,
      problem: `only ${hasImage ? UPDATE_IMAGE_NAME : UPDATE_SIG_NAME} is there`,
    };
  }
  try {
    const before = await stat(imagePath);
    const fetched = before.atimeMs > before.mtimeMs ? { fetchedAt: Math.round(before.atimeMs) } : {};
    const sig = parseSignature(await readSmallText(sigPath, 4096, 'INVALID_SIGNATURE'));
    chipOfSize(before.size);
    const bytes = await readWithoutAtime(imagePath);
    if (bytes === undefined) {
      return {
        present: true,
        valid: false,
        ...fetched,
        problem: 'not verified: only the owner can read it without disturbing the fetch time',
      };
    }
    const image = parseImage(bytes);
    const sha256 = sha256Hex(image.bytes);
    const base = {
      present: true,
      chip: image.chip,
      timestamp: sig.timestamp,
      sha256,
      settings: effectiveSettings(readBootConf(image)),
      ...fetched,
    };
    if (sha256 !== sig.sha256) return { ...base, valid: false, problem: 'pieeprom.sig does not match' };
    return { ...base, valid: true };
  } catch (cause) {
    if (cause instanceof EepromError) return { present: true, valid: false, problem: cause.message };
    throw cause;
  }
}

/** Read a whole file with O_NOATIME (its atime is the fetch mark); undefined when not permitted (not the owner). */
async function readWithoutAtime(path: string): Promise<Uint8Array | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOATIME);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EPERM') return undefined;
    throw ioError(`cannot read ${path}`, cause);
  }
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Remove pieeprom.upd and pieeprom.sig (the .sig first); returns the files removed. */
export async function removeUpdateFiles(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of [UPDATE_SIG_NAME, UPDATE_IMAGE_NAME]) {
    const path = join(dir, name);
    if (await exists(path)) {
      try {
        await rm(path, { force: true });
      } catch (cause) {
        throw ioError(`cannot remove ${path}`, cause);
      }
      removed.push(path);
    }
  }
  return removed;
}

/** The boot directory's config.txt says `bootloader_update=0`, so the bootloader ignores pieeprom.upd there. */
export async function selfUpdateDisabledIn(dir: string): Promise<boolean> {
  const text = await readSmallText(join(dir, 'config.txt'), 64 * 1024, 'INVALID_CONFIG').catch(() => '');
  return configTxtBlocksSelfUpdate(text);
}
