import { describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors.js';
import { ext4AclToXattr } from '../src/ext4/acl.js';
import { crc32c } from '../src/ext4/crc32c.js';

describe('crc32c', () => {
  it('matches the Castagnoli check value for "123456789"', () => {
    // CRC-32C check value 0xE3069283 (init ~0, final xor ~0; ext4 chains the raw register)
    expect((crc32c(0xffffffff, Buffer.from('123456789')) ^ 0xffffffff) >>> 0).toBe(0xe3069283);
  });
  it('chains: crc(a + b) = crc(crc(a), b)', () => {
    const a = Buffer.from('hello, ');
    const b = Buffer.from('bramble with more than eight bytes');
    expect(crc32c(crc32c(7, a), b)).toBe(crc32c(7, Buffer.concat([a, b])));
  });
});

describe('ext4 ACL → Linux posix_acl xattr', () => {
  it('widens short entries with ACL_UNDEFINED_ID and keeps named ones (28 → 44 bytes)', () => {
    const ext4 = Buffer.from(
      '01000000' + '01000600' + '02000600e8030000' + '04000400' + '10000600' + '20000400',
      'hex',
    );
    const linux = ext4AclToXattr(ext4);
    expect(linux.length).toBe(44);
    expect(linux.toString('hex')).toBe(
      '02000000' +
        '01000600ffffffff' +
        '02000600e8030000' +
        '04000400ffffffff' +
        '10000600ffffffff' +
        '20000400ffffffff',
    );
  });
  it('rejects an unknown version and truncated entries', () => {
    expect(() => ext4AclToXattr(Buffer.from('02000000', 'hex'))).toThrow(ImageError);
    expect(() => ext4AclToXattr(Buffer.from('0100000002000600e803', 'hex'))).toThrow(ImageError);
  });
});
