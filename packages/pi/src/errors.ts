/** Stable error codes of @bramble/pi. */
export type PiErrorCode = 'INVALID_SERIAL' | 'INVALID_MAC' | 'INVALID_IPV4' | 'UNKNOWN_MODEL' | 'NO_NODE_ID';

/** The one error class of @bramble/pi: bad input (a serial, MAC, address or model name that is not one). */
export class PiError extends Error {
  readonly code: PiErrorCode;
  constructor(code: PiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PiError';
    this.code = code;
  }
}
