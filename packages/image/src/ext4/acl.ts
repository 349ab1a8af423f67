import { ImageError } from '../errors.js';

/**
 * ext4 stores POSIX ACLs compactly (fs/ext4/acl.h): header u32 a_version = 1, then entries of
 * (u16 tag, u16 perm) for USER_OBJ/GROUP_OBJ/MASK/OTHER and (u16 tag, u16 perm, u32 id) for
 * USER/GROUP. Linux getxattr(2) returns the VFS format (include/uapi/linux/posix_acl_xattr.h):
 * u32 a_version = 2, then every entry as (u16 tag, u16 perm, u32 id) with id 0xFFFFFFFF
 * (ACL_UNDEFINED_ID) for the short tags.
 */
const ACL_USER = 0x02;
const ACL_GROUP = 0x08;
const EXT4_ACL_VERSION = 1;
const POSIX_ACL_XATTR_VERSION = 2;

export function ext4AclToXattr(b: Buffer): Buffer {
  if (b.length < 4 || b.readUInt32LE(0) !== EXT4_ACL_VERSION) {
    throw new ImageError(
      'CORRUPT_FILESYSTEM',
      'POSIX ACL xattr has an unknown version (expected ext4 ACL version 1)',
    );
  }
  const out: Buffer[] = [];
  const head = Buffer.alloc(4);
  head.writeUInt32LE(POSIX_ACL_XATTR_VERSION, 0);
  out.push(head);
  let offset = 4;
  while (offset < b.length) {
    if (offset + 4 > b.length)
      throw new ImageError('CORRUPT_FILESYSTEM', 'POSIX ACL xattr entry is truncated');
    const tag = b.readUInt16LE(offset);
    const perm = b.readUInt16LE(offset + 2);
    let id = 0xffffffff;
    if (tag === ACL_USER || tag === ACL_GROUP) {
      if (offset + 8 > b.length)
        throw new ImageError('CORRUPT_FILESYSTEM', 'POSIX ACL xattr entry is truncated');
      id = b.readUInt32LE(offset + 4);
      offset += 8;
    } else {
      offset += 4;
    }
    const e = Buffer.alloc(8);
    e.writeUInt16LE(tag, 0);
    e.writeUInt16LE(perm, 2);
    e.writeUInt32LE(id, 4);
    out.push(e);
  }
  return Buffer.concat(out);
}
