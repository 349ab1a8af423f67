/**
 * Every error @bramble/boot-tree throws is a BootTreeError with a stable `code`.
 * Messages say what was expected, what was found, and what to do.
 */
export type BootTreeErrorCode =
  | 'INVALID_SPEC'
  | 'INVALID_SERIAL'
  | 'INVALID_MAC'
  | 'INVALID_INPUT'
  | 'UNKNOWN_RELEASE'
  | 'NOT_FOUND'
  | 'CONFIG_TOO_LARGE'
  | 'NO_CLIENT_ADDRESS'
  | 'USER_NOT_FOUND'
  | 'TOOL_MISSING'
  | 'TOOL_FAILED'
  | 'COPY_FAILED'
  | 'ABORTED';

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
