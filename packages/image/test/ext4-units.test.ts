import { describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors.js';
import { ext4AclToXattr } from '../src/ext4/acl.js';
import { crc32c } from '../src/ext4/crc32c.js';
import { parseDirEntries, type RawDirEntry } from '../src/ext4/dir.js';

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

describe('linear directory entries', () => {
  const entry = (ino: number, name: Buffer, recLen: number, type: number): Buffer => {
    const b = Buffer.alloc(recLen);
    b.writeUInt32LE(ino, 0);
    b.writeUInt16LE(recLen, 4);
    b.writeUInt8(name.length, 6);
    b.writeUInt8(type, 7);
    name.copy(b, 8);
    return b;
  };
  const opts = { ino: 2, blockSize: 64, inodesCount: 100, hasFileType: true, csumSeed: undefined };
  it("skips '.', '..' and free entries, types entries, and flags names that are not UTF-8", () => {
    const block = Buffer.concat([
      entry(2, Buffer.from('.'), 12, 2),
      entry(2, Buffer.from('..'), 12, 2),
      entry(0, Buffer.alloc(0), 12, 0),
      entry(12, Buffer.from([0x63, 0x61, 0x66, 0xe9]), 12, 1), // 'café' in latin1
      entry(13, Buffer.from('ok'), 16, 7),
    ]);
    const out: RawDirEntry[] = [];
    parseDirEntries(block, opts, out, 'block 0');
    expect(out.map((e) => [e.ino, e.type, e.lossy ?? false])).toEqual([
      [12, 'file', true],
      [13, 'symlink', false],
    ]);
  });
});
