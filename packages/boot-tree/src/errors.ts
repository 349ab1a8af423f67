/**
 * Every error @bramble/boot-tree throws is a BootTreeError with a stable `code`.
 * Messages say what was expected, what was found, and what to do.
 */
export type BootTreeErrorCode =
  | 'INVALID_SPEC'
  | 'INVALID_INPUT'
  | 'UNKNOWN_RELEASE'
  | 'NOT_FOUND'
  | 'CONFIG_TOO_LARGE'
  | 'NO_CLIENT_ADDRESS'
  | 'USER_NOT_FOUND'
  | 'TOOL_MISSING'
  | 'TOOL_FAILED'
  | 'COPY_FAILED'
  | 'ABORTED'
  /** Node-tree path resolution (NodeTree): more than MAX_SYMLINK_HOPS symlinks in one lookup. */
  | 'SYMLINK_LOOP'
  /** A path component that must be a directory is something else in the tree. */
  | 'NOT_A_DIRECTORY'
  /** A file to read in the tree is not a regular file (FIFO, device, socket, directory). */
  | 'NOT_A_FILE'
  /** A file or directory in the tree is larger than the bound for what is read from it. */
  | 'FILE_TOO_LARGE'
  /** A directory resolved outside the tree right before a write (the tree changed under us). */
  | 'ESCAPES_TREE'
  /** The image holds a hostile or malformed entry (e.g. a passwd home with `..`, a non-numeric uid). */
  | 'UNSAFE_IMAGE'
  /** A base (or other store entry) a node still uses: nothing was removed. */
  | 'IN_USE'
  /** Moving store directories aside for deletion failed: nothing was removed. */
  | 'REMOVE_FAILED';

export class BootTreeError extends Error {
  readonly code: BootTreeErrorCode;
  constructor(code: BootTreeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BootTreeError';
    this.code = code;
  }
}

/** Throws BootTreeError('ABORTED') when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BootTreeError('ABORTED', 'operation aborted by the caller');
}
