import { ATTR_LFN, LfnAccumulator } from './lfn.js';

/**
 * 32-byte short directory entry (FAT spec 1.03 section 6):
 *   0x00 Name[11] (8 + 3, space padded; 0x00 = end of directory, 0xE5 = free, 0x05 = real 0xE5)
 *   0x0B Attr (0x01 RO, 0x02 hidden, 0x04 system, 0x08 volume id, 0x10 directory, 0x20 archive; 0x0F = LFN)
 *   0x0C NTRes: bit 0x08 = base name is lowercase, 0x10 = extension is lowercase (Windows NT / mtools
 *        store names like `config.txt` this way, without an LFN)
 *   0x0D CrtTimeTenth (10 ms units 0-199)  0x0E CrtTime  0x10 CrtDate  0x12 LstAccDate
 *   0x14 FstClusHI (FAT32)  0x16 WrtTime  0x18 WrtDate  0x1A FstClusLO  0x1C FileSize (u32)
 */
export const ATTR_READ_ONLY = 0x01;
export const ATTR_VOLUME_ID = 0x08;
/** Mask of the attribute bits that make up the LFN marker 0x0F. */
export const ATTR_LFN_MASK = 0x3f;
export const ATTR_DIRECTORY = 0x10;
const NTRES_LOWER_BASE = 0x08;
const NTRES_LOWER_EXT = 0x10;

export interface RawDirEntry {
  name: string;
  /** Index of the short entry within the directory (its byte offset / 32). */
  index: number;
  attr: number;
  cluster: number;
  size: number;
  crtTenth: number;
  crtTime: number;
  crtDate: number;
  accDate: number;
  wrtTime: number;
  wrtDate: number;
}

/** Decode a short entry's fields (no name). */
export function decodeShortEntry(e: Buffer, fat32: boolean): Omit<RawDirEntry, 'name' | 'index'> {
  return {
    attr: e.readUInt8(0x0b),
    cluster: (fat32 ? e.readUInt16LE(0x14) << 16 : 0) + e.readUInt16LE(0x1a),
    size: e.readUInt32LE(0x1c),
    crtTenth: e.readUInt8(0x0d),
    crtTime: e.readUInt16LE(0x0e),
    crtDate: e.readUInt16LE(0x10),
    accDate: e.readUInt16LE(0x12),
    wrtTime: e.readUInt16LE(0x16),
    wrtDate: e.readUInt16LE(0x18),
  };
}

/** The 8.3 name as Linux shows it: case bits applied, 0x05 mapped back to 0xE5, CP437 decoded. */
export function shortName(e: Buffer): string {
  const raw = Buffer.from(e.subarray(0, 11));
  if (raw[0] === 0x05) raw[0] = 0xe5;
  const nt = e.readUInt8(0x0c);
  let base = decodeCp437(raw.subarray(0, 8)).replace(/ +$/, '');
  let ext = decodeCp437(raw.subarray(8, 11)).replace(/ +$/, '');
  if (nt & NTRES_LOWER_BASE) base = base.toLowerCase();
  if (nt & NTRES_LOWER_EXT) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

export interface ParsedDir {
  entries: RawDirEntry[];
  /** Volume label from a volume-id entry (root directory only). */
  volumeLabel: string | undefined;
}

/** Parse a directory's bytes: long names joined, deleted entries, '.', '..' and labels skipped. */
export function parseDirectory(buf: Buffer, fat32: boolean): ParsedDir {
  const entries: RawDirEntry[] = [];
  const lfn = new LfnAccumulator();
  let volumeLabel: string | undefined;
  for (let off = 0; off + 32 <= buf.length; off += 32) {
    const e = buf.subarray(off, off + 32);
    const first = e[0] as number;
    if (first === 0x00) break;
    if (first === 0xe5) {
      lfn.reset();
      continue;
    }
    const attr = e[0x0b] as number;
    if ((attr & 0x3f) === ATTR_LFN) {
      lfn.add(e);
      continue;
    }
    if (attr & ATTR_VOLUME_ID) {
      lfn.reset();
      if (!(attr & ATTR_DIRECTORY)) volumeLabel ??= decodeCp437(e.subarray(0, 11)).replace(/ +$/, '');
      continue;
    }
    const long = lfn.take(e.subarray(0, 11));
    const name = long ?? shortName(e);
    if (name === '.' || name === '..' || name === '') continue;
    entries.push({ name, index: off / 32, ...decodeShortEntry(e, fat32) });
  }
  return { entries, volumeLabel };
}

/** IBM code page 437, upper half: how Linux (codepage=437) decodes non-ASCII bytes in 8.3 names. */
const HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function decodeCp437(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += c < 0x80 ? String.fromCharCode(c) : (HIGH[c - 0x80] ?? '?');
  return s;
}
