import { openImage } from '../disk-image.js';
import { ImageError } from '../errors.js';
import type { FileSystem } from '../filesystem.js';

/** The part of DiskImage (openImage) extraction needs. */
export interface PartitionedImage {
  openFileSystem(sel: number | string, opts?: { allowDirty?: boolean }): Promise<FileSystem>;
  close(): Promise<void>;
}

/** What `extract` accepts: an image path, an opened DiskImage, or a FileSystem. */
export type ExtractSource = string | PartitionedImage | FileSystem;

function isFileSystem(x: ExtractSource): x is FileSystem {
  return typeof x === 'object' && 'walk' in x && 'readdir' in x;
}

/** Open the selected partition's file system; `release` closes only what this call opened. */
export async function resolveFileSystem(
  image: ExtractSource,
  partition: number | string | undefined,
  allowDirty: boolean,
  open: { tmpDir?: string; signal?: AbortSignal } = {},
): Promise<{ fs: FileSystem; release: () => Promise<void> }> {
  if (typeof image !== 'string' && isFileSystem(image)) return { fs: image, release: async () => {} };
  if (partition === undefined) {
    throw new ImageError(
      'NO_SUCH_PARTITION',
      'extract needs `partition` (a number or a label) when given a disk image',
    );
  }
  if (typeof image !== 'string') {
    const fs = await image.openFileSystem(partition, { allowDirty });
    return { fs, release: () => fs.close() };
  }
  const img = await openImage(image, open);
  try {
    const fs = await img.openFileSystem(partition, { allowDirty });
    return {
      fs,
      release: async () => {
        await fs.close();
        await img.close();
      },
    };
  } catch (e) {
    await img.close();
    throw e;
  }
}
