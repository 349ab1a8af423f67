import { open } from 'node:fs/promises';

/**
 * Uncompressed size of an .xz file from its indexes, without decoding (xz file format 1.2.1):
 *   Stream Footer (12 bytes, section 2.1.2): CRC32(4) | Backward Size(4) | Stream Flags(2) | 'YZ'
 *     real index size = (Backward Size + 1) * 4
 *   Index (section 4): 0x00 | Number of Records (vli) | records { Unpadded Size (vli), Uncompressed Size (vli) }
 *     | padding to 4 | CRC32
 *   A stream = Header (12) + Blocks (each Unpadded Size rounded up to 4) + Index + Footer (12);
 *   streams may be concatenated with zero padding (multiple of 4) between them (section 2.2).
 * Returns undefined when the file does not parse (the decoder then reports the real problem).
 */
const MAX_STREAMS = 1024;
const MAX_INDEX = 64 * 1024 * 1024;
const MAX_PADDING = 64 * 1024;

export async function xzUncompressedSize(path: string): Promise<number | undefined> {
  const fh = await open(path, 'r');
  try {
    let end = (await fh.stat()).size;
    let total = 0;
    const readAt = async (pos: number, len: number) => {
      const b = Buffer.alloc(len);
      const { bytesRead } = await fh.read(b, 0, len, pos);
      return bytesRead === len ? b : undefined;
    };
    for (let s = 0; s < MAX_STREAMS && end > 0; s++) {
      // Skip stream padding (zero bytes, in multiples of 4); more than 64 KiB of it is not an xz file.
      const tail = await readAt(Math.max(0, end - MAX_PADDING), Math.min(end, MAX_PADDING));
      if (!tail) return undefined;
      let pad = 0;
      while (pad + 4 <= tail.length && tail.readUInt32LE(tail.length - pad - 4) === 0) pad += 4;
      if (pad + 4 > tail.length && tail.length === MAX_PADDING) return undefined;
      end -= pad;
      if (end < 24) return undefined;
      const footer = await readAt(end - 12, 12);
      if (footer?.toString('latin1', 10, 12) !== 'YZ') return undefined;
      const indexSize = (footer.readUInt32LE(4) + 1) * 4;
      if (indexSize > MAX_INDEX || indexSize > end - 24) return undefined;
      const indexStart = end - 12 - indexSize;
      const index = await readAt(indexStart, indexSize);
      if (index?.[0] !== 0) return undefined;
      let pos = 1;
      const vli = (): number | undefined => {
        let v = 0;
        for (let i = 0; i < 9 && pos < index.length; i++) {
          const byte = index[pos++] as number;
          v += (byte & 0x7f) * 2 ** (7 * i);
          if ((byte & 0x80) === 0) return v;
        }
        return undefined;
      };
      const records = vli();
      if (records === undefined) return undefined;
      let blocks = 0;
      for (let r = 0; r < records; r++) {
        const unpadded = vli();
        const uncompressed = vli();
        if (unpadded === undefined || uncompressed === undefined) return undefined;
        blocks += Math.ceil(unpadded / 4) * 4;
        total += uncompressed;
      }
      end = indexStart - blocks - 12;
      if (end < 0) return undefined;
      const header = await readAt(end, 6);
      if (!header?.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return undefined;
    }
    return end === 0 ? total : undefined;
  } finally {
    await fh.close();
  }
}
