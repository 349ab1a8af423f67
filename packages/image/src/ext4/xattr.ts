import { ImageError } from '../errors.js';
import type { Xattr } from '../filesystem.js';
import { ext4AclToXattr } from './acl.js';
import { crc32c } from './crc32c.js';

/** e_name_index → Linux name prefix (attributes.rst "Attribute Name Indices"). */
const PREFIXES: Record<number, string> = {
  1: 'user.',
  2: 'system.posix_acl_access',
  3: 'system.posix_acl_default',
  4: 'trusted.',
  6: 'security.',
  7: 'system.',
  8: 'system.richacl',
};

export const XATTR_MAGIC = 0xea020000;

export interface RawXattr {
  index: number;
  name: string;
  value: Buffer;
}

/**
 * Parse an entry table (attributes.rst): entries of e_name_len u8, e_name_index u8,
 * e_value_offs u16, e_value_inum u32, e_value_size u32, e_hash u32, name, padded to 4; ended by
 * four zero bytes. Values live at `valueBase + e_value_offs` within `area`.
 */
export function parseEntries(area: Buffer, start: number, valueBase: number, where: string): RawXattr[] {
  const out: RawXattr[] = [];
  let offset = start;
  for (let n = 0; n < 4096; n++) {
    if (offset + 4 > area.length || area.readUInt32LE(offset) === 0) return out;
    if (offset + 16 > area.length)
      throw new ImageError('CORRUPT_FILESYSTEM', `${where}: xattr entry is truncated`);
    const nameLen = area.readUInt8(offset);
    const index = area.readUInt8(offset + 1);
    const valueOffs = area.readUInt16LE(offset + 2);
    const valueInum = area.readUInt32LE(offset + 4);
    const valueSize = area.readUInt32LE(offset + 8);
    if (offset + 16 + nameLen > area.length)
      throw new ImageError('CORRUPT_FILESYSTEM', `${where}: xattr name is truncated`);
    const name = area.subarray(offset + 16, offset + 16 + nameLen).toString('latin1');
    if (valueInum !== 0) {
      throw new ImageError(
        'UNSUPPORTED_FEATURE',
        `${where}: xattr '${name}' is stored in an EA inode (ea_inode), which is not supported`,
      );
    }
    const vs = valueBase + valueOffs;
    if (vs + valueSize > area.length) {
      throw new ImageError('CORRUPT_FILESYSTEM', `${where}: xattr '${name}' value lies outside its block`);
    }
    out.push({ index, name, value: Buffer.from(area.subarray(vs, vs + valueSize)) });
    offset += (16 + nameLen + 3) & ~3;
  }
  throw new ImageError('CORRUPT_FILESYSTEM', `${where}: xattr table does not terminate`);
}

/** In-inode xattrs: magic at 128 + i_extra_isize, entries follow; value offsets are from the first entry. */
export function parseInodeXattrs(area: Buffer, ino: number): RawXattr[] {
  if (area.length < 4 || area.readUInt32LE(0) !== XATTR_MAGIC) return [];
  const entries = area.subarray(4);
  return parseEntries(entries, 0, 0, `inode ${ino}`);
}

/** External xattr block: 32-byte header (magic, refcount, blocks, hash, checksum), entries at 32. */
export function parseXattrBlock(
  block: Buffer,
  blockNr: number,
  ino: number,
  csumSeed: number | undefined,
): RawXattr[] {
  if (block.readUInt32LE(0) !== XATTR_MAGIC) {
    throw new ImageError('CORRUPT_FILESYSTEM', `inode ${ino}: xattr block ${blockNr} has a bad magic number`);
  }
  if (block.readUInt32LE(8) !== 1) {
    throw new ImageError(
      'CORRUPT_FILESYSTEM',
      `inode ${ino}: xattr block ${blockNr} claims ${block.readUInt32LE(8)} blocks`,
    );
  }
  if (csumSeed !== undefined) {
    // crc32c(fsSeed, le64 block number) over the block with h_checksum (0x10) zeroed (attributes.rst).
    const nr = Buffer.alloc(8);
    nr.writeUInt32LE(blockNr % 2 ** 32, 0);
    nr.writeUInt32LE(Math.floor(blockNr / 2 ** 32), 4);
    let c = crc32c(csumSeed, nr);
    c = crc32c(c, block.subarray(0, 0x10));
    c = crc32c(c, Buffer.alloc(4));
    c = crc32c(c, block.subarray(0x14));
    const want = block.readUInt32LE(0x10);
    if (c !== want) {
      throw new ImageError(
        'CHECKSUM_MISMATCH',
        `inode ${ino}: xattr block ${blockNr} checksum mismatch (stored 0x${want.toString(16)}, computed 0x${c.toString(16)})`,
      );
    }
  }
  return parseEntries(block, 32, 0, `xattr block ${blockNr}`);
}

/** Map raw entries to Linux names and values; ACLs converted; system.data (inline data) hidden. */
export function toLinuxXattrs(raw: RawXattr[]): Xattr[] {
  const out: Xattr[] = [];
  for (const r of raw) {
    const prefix = PREFIXES[r.index];
    if (prefix === undefined) continue;
    if (r.index === 2 || r.index === 3) {
      out.push({ name: prefix, value: ext4AclToXattr(r.value) });
      continue;
    }
    const name = prefix + r.name;
    if (name === 'system.data') continue;
    out.push({ name, value: r.value });
  }
  return out;
}
