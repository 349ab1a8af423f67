export {
  ConsoleWatch,
  type EmulationEvent,
  type EmulationEventKind,
} from './console-watch.js';
export {
  type EmulateOptions,
  EmulateOptionsSchema,
  type Emulation,
  type EmulationReport,
  type EmulationVerdict,
  emulateNode,
  startEmulation,
  UBOOT_QEMU_ARM64,
} from './emulate.js';
export {
  checkKernel,
  checkKernelFile,
  KERNEL_MAX_BYTES,
  KERNEL_MAX_UNPACKED_BYTES,
  type KernelCheck,
  requireVirtKernel,
  VIRT_REQUIREMENTS,
  type VirtRequirement,
} from './kernel-check.js';
export { attachToBridge, type EmulatorAttachment } from './network.js';
export { type NodeBootFiles, nodeBootFiles } from './node-files.js';
export { formatEmulationReport } from './report.js';
