/**
 * A writer for "newc" cpio archives (the SVR4 portable format, magic 070701): the format the Linux
 * kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/buffer-format.rst). Only what
 * an initramfs needs: directories, regular files and symlinks, owned by root unless told otherwise,
 * with a fixed mtime so the same entries always give the same bytes.
 *
 * Entry names are relative ("scripts/bramble", no leading slash, no `.`/`..` components): the kernel
 * creates them under the initramfs root. Parent directories must come before their entries.
 */
import { BootTreeError } from './errors.js';

export interface CpioDirectory {
  type: 'directory';
  path: string;
  mode?: number;
}
export interface CpioFile {
  type: 'file';
  path: string;
  data: Uint8Array | string;
  mode?: number;
}
export interface CpioSymlink {
  type: 'symlink';
  path: string;
  target: string;
}
export type CpioEntry = CpioDirectory | CpioFile | CpioSymlink;

const MAGIC = '070701';
const HEADER_BYTES = 110;
const TRAILER = 'TRAILER!!!';
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
/** The kernel's initramfs unpacker takes names up to PATH_MAX (4096, with the NUL). */
const MAX_NAME_BYTES = 4095;
/** newc sizes are 8 hex digits. */
const MAX_FILE_BYTES = 0xffffffff;

/** Check an entry name: relative, no empty/`.`/`..` components, no NUL, at most PATH_MAX. */
function checkName(path: string): string {
  const parts = path.split('/');
  if (
    path.length === 0 ||
    path.includes('\0') ||
    Buffer.byteLength(path) > MAX_NAME_BYTES ||
    parts.some((part) => part === '' || part === '.' || part === '..')
  ) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `cpio entry name '${path.slice(0, 200)}' must be a relative path without empty, '.' or '..' parts`,
    );
  }
  return path;
}

const hex8 = (value: number): string => value.toString(16).padStart(8, '0');
const pad4 = (length: number): number => (4 - (length % 4)) % 4;

function header(fields: {
  ino: number;
  mode: number;
  nlink: number;
  size: number;
  nameBytes: number;
}): string {
  return [
    MAGIC,
    hex8(fields.ino),
    hex8(fields.mode),
    hex8(0), // uid
    hex8(0), // gid
    hex8(fields.nlink),
    hex8(0), // mtime: fixed, so an archive is a function of its entries
    hex8(fields.size),
    hex8(0), // devmajor
    hex8(0), // devminor
    hex8(0), // rdevmajor
    hex8(0), // rdevminor
    hex8(fields.nameBytes),
    hex8(0), // check (newc: always 0)
  ].join('');
}

/** One header + name + data record, each part padded to 4 bytes as newc wants. */
function record(name: string, fields: { ino: number; mode: number; nlink: number }, data: Buffer): Buffer {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const head = Buffer.from(header({ ...fields, size: data.length, nameBytes: nameBuf.length }), 'latin1');
  return Buffer.concat([
    head,
    nameBuf,
    Buffer.alloc(pad4(HEADER_BYTES + nameBuf.length)),
    data,
    Buffer.alloc(pad4(data.length)),
  ]);
}

/**
 * The newc archive of `entries` (in order), ending with the TRAILER!!! record. Its length is a
 * multiple of 4. Throws BootTreeError('INVALID_INPUT') on a bad name, a duplicate or an oversized file.
 */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const name = checkName(entry.path);
    if (seen.has(name)) throw new BootTreeError('INVALID_INPUT', `cpio entry '${name}' appears twice`);
    seen.add(name);
    const ino = index + 1;
    if (entry.type === 'directory') {
      parts.push(
        record(name, { ino, mode: S_IFDIR | ((entry.mode ?? 0o755) & 0o7777), nlink: 2 }, Buffer.alloc(0)),
      );
    } else if (entry.type === 'file') {
      const data = typeof entry.data === 'string' ? Buffer.from(entry.data, 'utf8') : Buffer.from(entry.data);
      if (data.length > MAX_FILE_BYTES)
        throw new BootTreeError('INVALID_INPUT', `cpio entry '${name}' is over 4 GiB`);
      parts.push(record(name, { ino, mode: S_IFREG | ((entry.mode ?? 0o644) & 0o7777), nlink: 1 }, data));
    } else {
      if (entry.target.length === 0 || entry.target.includes('\0'))
        throw new BootTreeError('INVALID_INPUT', `cpio symlink '${name}' needs a target without NUL`);
      parts.push(record(name, { ino, mode: S_IFLNK | 0o777, nlink: 1 }, Buffer.from(entry.target, 'utf8')));
    }
  }
  parts.push(record(TRAILER, { ino: 0, mode: 0, nlink: 1 }, Buffer.alloc(0)));
  return Buffer.concat(parts);
}
