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

/** An extraction's source, opened once for all its partitions; `release` closes what this opened. */
export interface OpenedSource {
  fileSystem(partition: number | string | undefined): Promise<FileSystem>;
  release(): Promise<void>;
}

/**
 * Open what `extract` was given. A path is opened (a compressed image decompressed once into
 * `open.tmpDir`) and closed by `release`, which also removes the temporary copy; a DiskImage or
 * FileSystem given by the caller stays open.
 */
export async function openSource(
  image: ExtractSource,
  allowDirty: boolean,
  open: { tmpDir?: string; signal?: AbortSignal } = {},
): Promise<OpenedSource> {
  if (typeof image !== 'string' && isFileSystem(image))
    return { fileSystem: async () => image, release: async () => {} };
  const opened: FileSystem[] = [];
  const disk = typeof image === 'string' ? await openImage(image, open) : image;
  return {
    fileSystem: async (partition) => {
      if (partition === undefined) {
        throw new ImageError(
          'NO_SUCH_PARTITION',
          'extract needs `partition` (a number or a label) when given a disk image',
        );
      }
      const fs = await disk.openFileSystem(partition, { allowDirty });
      opened.push(fs);
      return fs;
    },
    release: async () => {
      for (const fs of opened) await fs.close().catch(() => undefined);
      if (typeof image === 'string') await disk.close();
    },
  };
}
