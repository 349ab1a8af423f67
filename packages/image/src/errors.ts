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
  | 'CHECKSUM_MISMATCH'
  | 'UNSUPPORTED_FEATURE'
  | 'NEEDS_RECOVERY'
  | 'NOT_FOUND'
  | 'NOT_A_DIRECTORY'
  | 'IS_A_DIRECTORY'
  | 'NOT_A_SYMLINK'
  | 'DESTINATION_NOT_EMPTY'
  | 'NEEDS_ROOT'
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
