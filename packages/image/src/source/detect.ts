import { open } from 'node:fs/promises';
import { ImageError } from '../errors.js';

/** Container formats an image file can come in. Detected from magic bytes, never from the name. */
export type ImageFormat = 'raw' | 'xz' | 'zip' | 'gz';

/** xz stream header magic (xz file format 1.2.1, section 2.1.1.1). */
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
/** gzip member header ID1 ID2 (RFC 1952 section 2.3.1). */
const GZ_MAGIC = Buffer.from([0x1f, 0x8b]);
/** zip local file header signature "PK\3\4" (APPNOTE 4.3.7). */
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/** The format of a file from its first bytes. Anything that is not a known container is 'raw'. */
export function detectFormat(head: Buffer): ImageFormat {
  if (head.length >= 6 && head.subarray(0, 6).equals(XZ_MAGIC)) return 'xz';
  if (head.length >= 2 && head.subarray(0, 2).equals(GZ_MAGIC)) return 'gz';
  if (head.length >= 4 && head.subarray(0, 4).equals(ZIP_MAGIC)) return 'zip';
  return 'raw';
}

/** Read the first bytes of `path` and detect its format. An empty file is refused. */
export async function detectFileFormat(path: string): Promise<{ format: ImageFormat; size: number }> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new ImageError('IO', `cannot open image ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() && !st.isBlockDevice()) {
      throw new ImageError('UNKNOWN_FORMAT', `${path} is not a regular file: give the path of an image file`);
    }
    if (st.size === 0) throw new ImageError('TRUNCATED', `${path} is empty: expected a disk image`);
    const head = Buffer.alloc(Math.min(512, st.size));
    await fh.read(head, 0, head.length, 0);
    return { format: detectFormat(head), size: st.size };
  } finally {
    await fh.close();
  }
}
