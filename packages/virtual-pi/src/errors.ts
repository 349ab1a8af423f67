/** Stable error codes of @bramble/virtual-pi. */
export type VirtualPiErrorCode =
  | 'INVALID_OPTIONS'
  | 'INVALID_SERIAL'
  | 'INVALID_MAC'
  | 'UNKNOWN_MODEL'
  | 'DHCP_SOCKET'
  /** No usable network interface was named, or none can be chosen without one. */
  | 'NO_INTERFACE'
  | 'ABORTED'
  | 'INTERNAL';

/**
 * The one error class of this package. A virtual Pi that "would not boot" is NOT an error (that is a verdict
 * in the BootReport); errors are for bad input and for failures of the simulator itself (e.g. a port it
 * cannot bind).
 */
export class VirtualPiError extends Error {
  readonly code: VirtualPiErrorCode;
  constructor(code: VirtualPiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VirtualPiError';
    this.code = code;
  }
}
