/**
 * POSIX pax / ustar header encoding (POSIX.1-2008 `pax` "Extended Header" and "ustar Interchange
 * Format"). Records are `"<len> <key>=<value>\n"` where <len> counts the whole record in bytes;
 * values are raw bytes (so binary SCHILY.xattr values stay intact).
 */
export const BLOCK = 512;

export const TypeFlag = {
  FILE: '0',
  HARDLINK: '1',
  SYMLINK: '2',
  CHAR: '3',
  BLOCK: '4',
  DIRECTORY: '5',
  FIFO: '6',
  PAX: 'x',
} as const;

/** One pax record with an exact byte length prefix. */
export function paxRecord(key: string, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), v, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** Nanoseconds since the epoch as an exact pax decimal ("-1.5", "1614834367.123456789"). */
export function paxTime(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const sec = abs / 1_000_000_000n;
  const frac = abs % 1_000_000_000n;
  const f = frac === 0n ? '' : `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${neg ? '-' : ''}${sec}${f}`;
}

export interface UstarFields {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

function octal(buf: Buffer, off: number, width: number, value: number): void {
  const max = 8 ** (width - 1) - 1;
  const v = value >= 0 && value <= max ? value : 0; // out-of-range values travel in pax records
  buf.write(v.toString(8).padStart(width - 1, '0'), off, width - 1, 'ascii');
  buf[off + width - 1] = 0;
}

/** Fit a name into a ustar field (pax `path`/`linkpath` records carry the real one). */
function fit(s: string, max: number): Buffer {
  const b = Buffer.from(s, 'utf8');
  return b.length <= max ? b : b.subarray(b.length - max);
}

export function ustarHeader(f: UstarFields): Buffer {
  const h = Buffer.alloc(BLOCK);
  fit(f.name, 100).copy(h, 0);
  octal(h, 100, 8, f.mode & 0o7777);
  octal(h, 108, 8, f.uid);
  octal(h, 116, 8, f.gid);
  octal(h, 124, 12, f.size);
  octal(h, 136, 12, Math.max(0, f.mtime));
  h.write(f.type, 156, 1, 'ascii');
  if (f.linkname !== undefined) fit(f.linkname, 100).copy(h, 157);
  h.write('ustar\u000000', 257, 8, 'latin1');
  octal(h, 329, 8, f.devmajor ?? 0);
  octal(h, 337, 8, f.devminor ?? 0);
  // checksum: sum of header bytes with the checksum field as spaces
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return h;
}

export function padding(size: number): Buffer {
  const r = size % BLOCK;
  return r === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - r);
}

/** A pax extended header ('x') block sequence for `records`, to precede an entry's ustar header. */
export function paxHeader(records: Buffer[], name: string): Buffer {
  const body = Buffer.concat(records);
  const head = ustarHeader({
    name: `PaxHeaders/${name}`,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: 0,
    type: TypeFlag.PAX,
  });
  return Buffer.concat([head, body, padding(body.length)]);
}
