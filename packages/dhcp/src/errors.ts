/** Stable machine-readable codes carried by every error this package throws. */
export type DhcpErrorCode =
  | 'MALFORMED'
  | 'TRUNCATED'
  | 'BAD_COOKIE'
  | 'BAD_OPTION'
  | 'ENCODE'
  | 'CONFIG'
  | 'UNSUPPORTED_MODE'
  | 'SOCKET';

/** Base class of every error thrown by @bramble/dhcp. */
export class DhcpError extends Error {
  readonly code: DhcpErrorCode;
  constructor(code: DhcpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DhcpError';
    this.code = code;
  }
}

/**
 * A packet (or an option value) is not a well-formed DHCP message.
 * `offset` is the byte position where decoding gave up, when known.
 */
export class DhcpDecodeError extends DhcpError {
  readonly offset: number | undefined;
  constructor(
    code: 'MALFORMED' | 'TRUNCATED' | 'BAD_COOKIE' | 'BAD_OPTION',
    message: string,
    offset?: number,
  ) {
    super(code, message);
    this.name = 'DhcpDecodeError';
    this.offset = offset;
  }
}

/** A message or option value cannot be encoded (e.g. a bad address or an oversized field). */
export class DhcpEncodeError extends DhcpError {
  constructor(message: string) {
    super('ENCODE', message);
    this.name = 'DhcpEncodeError';
  }
}

/** A configuration description is invalid or asks for something a generator cannot express. */
export class DhcpConfigError extends DhcpError {
  constructor(code: 'CONFIG' | 'UNSUPPORTED_MODE', message: string) {
    super(code, message);
    this.name = 'DhcpConfigError';
  }
}
