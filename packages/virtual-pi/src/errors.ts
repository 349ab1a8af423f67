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
  /** `emulateNode`: the node's kernel (as the firmware would choose it) is not in its tree or unreadable. */
  | 'KERNEL_NOT_FOUND'
  /** `emulateNode`: the kernel is not an arm64 Linux `Image` (plain or gzip). */
  | 'KERNEL_NOT_ARM64'
  /** `emulateNode`: an arm64 kernel built for Raspberry Pi boards only: it cannot drive QEMU `-M virt`. */
  | 'KERNEL_PI_ONLY'
  /** `emulateNode`: qemu-system-aarch64 or its U-Boot firmware is not installed. */
  | 'EMULATOR_MISSING'
  /** `emulateNode`: the tap device or bridge could not be set up. */
  | 'NETWORK_SETUP'
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
