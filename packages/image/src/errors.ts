/**
 * Every error @bramble/image throws is an ImageError with a stable `code`.
 * Messages say what was expected, what was found, and what to do.
 */
export type ImageErrorCode =
  | 'UNKNOWN_FORMAT'
  | 'TRUNCATED'
  | 'BAD_PARTITION_TABLE'
  | 'NO_SUCH_PARTITION'
  | 'UNKNOWN_FILESYSTEM'
  | 'CORRUPT_FILESYSTEM'
  | 'OVERLAPPING_BLOCKS'
  | 'OUTPUT_LIMIT'
  | 'CHECKSUM_MISMATCH'
  | 'UNSUPPORTED_FEATURE'
  | 'NEEDS_RECOVERY'
  | 'NOT_FOUND'
  | 'NOT_A_DIRECTORY'
  | 'IS_A_DIRECTORY'
  | 'NOT_A_SYMLINK'
  | DestinationErrorCode
  | 'NEEDS_ROOT'
  | 'MISSING_PROGRAM'
  | 'DECOMPRESS_FAILED'
  | 'ABORTED'
  | 'IO'
  | 'INVALID_OPTIONS';

export class ImageError extends Error {
  readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageError';
    this.code = code;
  }
}

/**
 * One file's blocks are mapped twice (two extents or block-map entries of one inode cover the same
 * physical block): a corrupt or hostile image that would make extraction write the same data many
 * times. Code OVERLAPPING_BLOCKS.
 */
export class OverlappingBlocksError extends ImageError {
  constructor(
    /** The inode whose map overlaps itself. */
    readonly ino: number,
    /** The first physical block mapped twice. */
    readonly block: number,
  ) {
    super(
      'OVERLAPPING_BLOCKS',
      `inode ${ino}: block ${block} is mapped more than once in the same file (overlapping extents): the image is corrupt or hostile; run e2fsck on a copy`,
    );
    this.name = 'OverlappingBlocksError';
  }
}

/**
 * Extraction would write more file data than the file system has in use (blocks or clusters
 * shared between files, hard links with a link count of 1): refused before anything is written.
 * Code OUTPUT_LIMIT.
 */
export class OutputLimitError extends ImageError {
  constructor(
    /** File data bytes the tree would need (holes not counted). */
    readonly bytes: number,
    /** Bytes in use in the file system (FileSystem.usedBytes). */
    readonly limit: number,
  ) {
    super(
      'OUTPUT_LIMIT',
      `the file system holds ${limit} bytes in use but its files would write ${bytes} bytes of data: blocks are shared between files (a corrupt or hostile image); nothing was extracted`,
    );
    this.name = 'OutputLimitError';
  }
}

/**
 * Destination problems, found before anything is written:
 * - DESTINATION_NOT_EMPTY: exists and is not empty, and `overwrite` was not given;
 * - DESTINATION_FOREIGN: `overwrite` was given but the destination is not an earlier extraction
 *   (no matching marker), so it is not ours to replace;
 * - DESTINATION_PROTECTED: `/` or the home directory;
 * - DESTINATION_CONFLICT: two destinations of one extraction are the same path or nested.
 */
export type DestinationErrorCode =
  | 'DESTINATION_NOT_EMPTY'
  | 'DESTINATION_FOREIGN'
  | 'DESTINATION_PROTECTED'
  | 'DESTINATION_CONFLICT';

export class DestinationError extends ImageError {
  declare readonly code: DestinationErrorCode;
  constructor(
    code: DestinationErrorCode,
    /** The destination path concerned. */
    readonly path: string,
    message: string,
  ) {
    super(code, message);
    this.name = 'DestinationError';
  }
}

/** A program extraction needs is not installed. Code MISSING_PROGRAM. */
export class MissingProgramError extends ImageError {
  constructor(
    readonly program: string,
    message: string,
  ) {
    super('MISSING_PROGRAM', message);
    this.name = 'MissingProgramError';
  }
}
