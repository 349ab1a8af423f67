import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { ImageError } from '../errors.js';
import type { DecodedStream } from './decoded-stream.js';

/**
 * Open the one disk image inside a .zip (central directory read by yauzl, ZIP64 supported).
 * The entry is the single file ending in `.img`, or the only file if there is just one.
 */
export async function zipStream(path: string): Promise<DecodedStream> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (err, z) =>
      err
        ? reject(
            new ImageError('DECOMPRESS_FAILED', `${path} is not a readable zip: ${err.message}`, {
              cause: err,
            }),
          )
        : resolve(z),
    ),
  );
  try {
    const files = await listEntries(zip, path);
    const imgs = files.filter((e) => /\.img$/i.test(e.fileName));
    const chosen = imgs.length === 1 ? imgs[0] : files.length === 1 ? files[0] : undefined;
    if (!chosen) {
      throw new ImageError(
        'UNKNOWN_FORMAT',
        `${path} holds ${files.length} files (${imgs.length} ending in .img): expected exactly one disk image; unzip it and open the .img directly`,
      );
    }
    const stream = await new Promise<Readable>((resolve, reject) =>
      zip.openReadStream(chosen, (err, s) =>
        err
          ? reject(
              new ImageError(
                'DECOMPRESS_FAILED',
                `cannot read ${chosen.fileName} in ${path}: ${err.message}`,
              ),
            )
          : resolve(s),
      ),
    );
    const done = new Promise<void>((resolve) => {
      stream.once('close', () => {
        zip.close();
        resolve();
      });
    });
    return { stream, done, decoder: 'yauzl + node:zlib', total: chosen.uncompressedSize };
  } catch (e) {
    zip.close();
    throw e;
  }
}

function listEntries(zip: yauzl.ZipFile, path: string): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const out: yauzl.Entry[] = [];
    zip.on('entry', (e: yauzl.Entry) => {
      if (!e.fileName.endsWith('/')) out.push(e);
      if (out.length > 10_000) {
        reject(new ImageError('UNKNOWN_FORMAT', `${path} holds more than 10000 files: not an image archive`));
        return;
      }
      zip.readEntry();
    });
    zip.on('end', () => resolve(out));
    zip.on('error', (err: Error) =>
      reject(
        new ImageError('DECOMPRESS_FAILED', `${path} is not a readable zip: ${err.message}`, { cause: err }),
      ),
    );
    zip.readEntry();
  });
}
