/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as ext4's metadata_csum uses it
 * (kernel Documentation/filesystems/ext4/checksums.rst). ext4 feeds the raw running value
 * (no final inversion between calls): `crc32c(seed, buf)` returns the value to chain.
 * Node's zlib.crc32 is IEEE CRC-32, not this.
 */
const TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t0[i] = c >>> 0;
  }
  const tables = [t0];
  for (let n = 1; n < 8; n++) {
    const prev = tables[n - 1] as Uint32Array;
    const t = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      const p = prev[i] as number;
      t[i] = ((p >>> 8) ^ (t0[p & 0xff] as number)) >>> 0;
    }
    tables.push(t);
  }
  return tables;
})();

/** Raw CRC32C update (ext4 style: caller supplies the seed, no final xor). */
export function crc32c(seed: number, buf: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let crc = seed >>> 0;
  let i = 0;
  const n = buf.length;
  // slicing-by-8
  while (n - i >= 8) {
    const a =
      (crc ^
        ((buf[i] as number) |
          ((buf[i + 1] as number) << 8) |
          ((buf[i + 2] as number) << 16) |
          ((buf[i + 3] as number) << 24))) >>>
      0;
    crc =
      ((t7[a & 0xff] as number) ^
        (t6[(a >>> 8) & 0xff] as number) ^
        (t5[(a >>> 16) & 0xff] as number) ^
        (t4[a >>> 24] as number) ^
        (t3[buf[i + 4] as number] as number) ^
        (t2[buf[i + 5] as number] as number) ^
        (t1[buf[i + 6] as number] as number) ^
        (t0[buf[i + 7] as number] as number)) >>>
      0;
    i += 8;
  }
  while (i < n) {
    crc = ((t0[(crc ^ (buf[i] as number)) & 0xff] as number) ^ (crc >>> 8)) >>> 0;
    i++;
  }
  return crc >>> 0;
}

/** A little-endian u32 as 4 bytes, for checksumming inode numbers and generations. */
export function le32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}
