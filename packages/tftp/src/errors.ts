/**
 * Errors raised by @bramble/tftp. Every error is a `TftpError` with a stable `code` string;
 * errors that map to a TFTP ERROR packet also carry the RFC 1350 §5 error number in `tftpCode`.
 */

/** RFC 1350 §5 (Appendix "Error Codes") plus RFC 2347 §2 code 8. */
export const ErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  /** RFC 2347 §2: option negotiation failed (also sent by Pi/UEFI firmware as "Early terminate"). */
  OPTION_NEGOTIATION: 8,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error thrown by this package. */
export class TftpError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TftpError';
    this.code = code;
  }
}

/** The peer sent an ERROR packet (`tftpCode` 1 = file not found, 2 = access violation, ...). */
export class TftpRemoteError extends TftpError {
  readonly tftpCode: number;
  readonly remoteMessage: string;
  constructor(tftpCode: number, remoteMessage: string, file?: string) {
    super(
      'REMOTE_ERROR',
      `TFTP peer sent ERROR ${tftpCode} (${remoteMessage || 'no message'})${file ? ` for '${file}'` : ''}`,
    );
    this.name = 'TftpRemoteError';
    this.tftpCode = tftpCode;
    this.remoteMessage = remoteMessage;
  }
}

/** No answer from the peer after every retransmission. */
export class TftpTimeoutError extends TftpError {
  constructor(message: string) {
    super('TIMEOUT', message);
    this.name = 'TftpTimeoutError';
  }
}

/** A packet could not be decoded (truncated, missing NUL terminator, unknown opcode, too many options). */
export class TftpPacketError extends TftpError {
  constructor(message: string) {
    super('MALFORMED', message);
    this.name = 'TftpPacketError';
  }
}

/**
 * A request refused by a handler or by the server's policy; sent to the client as ERROR `tftpCode`.
 * Throw `new TftpRequestError('NOT_FOUND', ...)` (or use `notFound()` / `accessDenied()`) from a handler.
 */
export class TftpRequestError extends TftpError {
  readonly tftpCode: number;
  constructor(code: string, tftpCode: number, message: string) {
    super(code, message);
    this.name = 'TftpRequestError';
    this.tftpCode = tftpCode;
  }
}

/** ERROR 1: the file does not exist (answered at once; Pi firmware treats slowness as "missing"). */
export function notFound(message = 'File not found'): TftpRequestError {
  return new TftpRequestError('NOT_FOUND', ErrorCode.FILE_NOT_FOUND, message);
}

/** ERROR 2: the request is not allowed. */
export function accessDenied(message = 'Access violation'): TftpRequestError {
  return new TftpRequestError('ACCESS_DENIED', ErrorCode.ACCESS_VIOLATION, message);
}

/** The transfer was stopped locally (AbortSignal, server close). */
export class TftpAbortError extends TftpError {
  constructor(message = 'TFTP transfer aborted') {
    super('ABORTED', message);
    this.name = 'TftpAbortError';
  }
}

/** Invalid options passed to a client or server function (zod validation failed). */
export class TftpConfigError extends TftpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_OPTIONS', message, options);
    this.name = 'TftpConfigError';
  }
}
