import { open } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { VirtualPiError } from '../errors.js';

/**
 * Can this kernel run on QEMU's `-M virt` machine? Read as the Pi firmware would load it (plain arm64
 * `Image`, or gzip, which the firmware and U-Boot's `booti` both unpack), then:
 * - the arm64 Image header (Linux Documentation/arch/arm64/booting.rst §4): magic "ARM\x64" at byte 56,
 *   flags bits 1-2 = page size;
 * - the device-tree `compatible` strings `-M virt` needs, built into the kernel (each is a NUL-terminated
 *   entry of a driver's of_device_id table): the generic PCIe host bridge (the emulated network card sits
 *   behind it), the PL011 UART (the serial console), the GIC and the architected timer.
 * Raspberry Pi OS kernels (raspberrypi/linux bcm2711_defconfig, bcm2712_defconfig) have PL011, GIC and timer
 * (the Pi has them too) but only Broadcom's PCIe host (CONFIG_PCIE_BRCMSTB), not CONFIG_PCI_HOST_GENERIC,
 * and no e1000/virtio network driver: they boot in QEMU, then find neither a network card nor their root.
 * Modules (e.g. the e1000 driver) are not checked here: they live in the initramfs and the root.
 */

/** One thing `-M virt` needs from the kernel. */
export interface VirtRequirement {
  /** The device-tree compatible string searched for. */
  readonly compatible: string;
  /** What it is, with its Kconfig symbol. */
  readonly what: string;
}

export const VIRT_REQUIREMENTS: readonly VirtRequirement[] = [
  {
    compatible: 'pci-host-ecam-generic',
    what: 'the generic PCIe host bridge of -M virt (CONFIG_PCI_HOST_GENERIC), behind which the network card sits',
  },
  { compatible: 'arm,pl011', what: 'the PL011 UART, the serial console (CONFIG_SERIAL_AMBA_PL011)' },
  { compatible: 'arm,cortex-a15-gic', what: 'the GICv2 interrupt controller (CONFIG_ARM_GIC)' },
  { compatible: 'arm,armv8-timer', what: 'the architected timer (CONFIG_ARM_ARCH_TIMER)' },
];

/** SoCs whose compatible strings (as prefixes) mark a kernel that drives Raspberry Pis (reported, not required). */
const PI_SOCS = ['brcm,bcm2712', 'brcm,bcm2711', 'brcm,bcm2837', 'brcm,bcm2835'] as const;

/** Larger kernels are refused before reading (Debian's arm64 Image is ~35 MiB, gzip ~11 MiB). */
export const KERNEL_MAX_BYTES = 128 * 1024 * 1024;
/** A gzip kernel may unpack to at most this (bounds a hostile gzip bomb). */
export const KERNEL_MAX_UNPACKED_BYTES = 256 * 1024 * 1024;

const ARM64_MAGIC = 0x644d5241; // "ARM\x64", little-endian u32 at byte 56
const ARM64_HEADER_BYTES = 64;
const ZIMAGE_MAGIC = 0x016f2818; // 32-bit ARM zImage, u32 at byte 0x24
const PAGE_SIZES = [undefined, 4, 16, 64] as const;

export interface KernelCheck {
  /** The file checked (path as given). */
  file: string;
  compression: 'none' | 'gzip';
  /** Size of the Image after unpacking. */
  imageBytes: number;
  /** Page size in KiB from the header flags (undefined when the header leaves it unspecified). */
  pageSizeKiB?: 4 | 16 | 64;
  /** Requirements found built in. */
  present: string[];
  /** Requirements missing (empty when the kernel can run on `-M virt`). */
  missing: VirtRequirement[];
  /** Raspberry Pi SoCs the kernel supports (`brcm,bcm2711` …), for the report. */
  piSocs: string[];
  /** The kernel's `Linux version …` banner, when found. */
  version?: string;
}

/** Read and check a kernel file; throws KERNEL_NOT_FOUND / KERNEL_NOT_ARM64 (never KERNEL_PI_ONLY). */
export async function checkKernelFile(file: string): Promise<KernelCheck> {
  let raw: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      if (size > KERNEL_MAX_BYTES)
        throw new VirtualPiError(
          'KERNEL_NOT_ARM64',
          `${file} is ${size} bytes, more than ${KERNEL_MAX_BYTES}: not a kernel`,
        );
      raw = Buffer.alloc(size);
      await handle.read(raw, 0, size, 0);
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof VirtualPiError) throw error;
    throw new VirtualPiError(
      'KERNEL_NOT_FOUND',
      `cannot read the kernel ${file}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return checkKernel(raw, file);
}

/** Check kernel bytes (plain or gzip). Throws KERNEL_NOT_ARM64 for anything that is not an arm64 Image. */
export async function checkKernel(raw: Buffer, file: string): Promise<KernelCheck> {
  const gzip = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b; // RFC 1952 §2.3.1 ID1 ID2
  const image = gzip ? await unpack(raw, file) : raw;
  assertArm64Image(image, file);
  const flags = image.readUInt32LE(24); // low half of the u64 flags field (byte 24)
  const pageSizeKiB = PAGE_SIZES[(flags >> 1) & 3];
  const present: string[] = [];
  const missing: VirtRequirement[] = [];
  for (const requirement of VIRT_REQUIREMENTS) {
    if (hasCompatible(image, requirement.compatible)) present.push(requirement.compatible);
    else missing.push(requirement);
  }
  const version = linuxBanner(image);
  return {
    file,
    compression: gzip ? 'gzip' : 'none',
    imageBytes: image.length,
    ...(pageSizeKiB ? { pageSizeKiB } : {}),
    present,
    missing,
    // Any driver for the SoC's blocks (`brcm,bcm2711-pcie`, `brcm,bcm2835-aux-uart` …) counts.
    piSocs: PI_SOCS.filter((soc) => image.indexOf(Buffer.from(`\0${soc}`, 'latin1')) >= 0),
    ...(version ? { version: version.trim() } : {}),
  };
}

/** The check's verdict as an error: KERNEL_PI_ONLY naming what is missing and what to do instead. */
export function requireVirtKernel(check: KernelCheck): KernelCheck {
  if (check.missing.length === 0) return check;
  const built = check.piSocs.length
    ? `built for Raspberry Pi boards only (${check.piSocs.join(', ')})`
    : 'built without QEMU -M virt support';
  const lacks = check.missing.map((m) => `${m.compatible}: ${m.what}`).join('; ');
  throw new VirtualPiError(
    'KERNEL_PI_ONLY',
    `${check.file} is an arm64 kernel ${built}; it cannot run on QEMU -M virt. Missing: ${lacks}. ` +
      'Raspberry Pi OS kernels (bcm2711/bcm2712 defconfig) are built this way. To emulate this node, install ' +
      "a generic arm64 kernel in the image (Debian: linux-image-arm64) and point config.txt's kernel= at it; " +
      'or check the boot path with `bramble doctor --simulate`, which needs no kernel support.',
  );
}

async function unpack(raw: Buffer, file: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(raw, { maxOutputLength: KERNEL_MAX_UNPACKED_BYTES }, (error, out) => {
      if (error)
        reject(
          new VirtualPiError(
            'KERNEL_NOT_ARM64',
            `${file} is gzip but does not unpack (limit ${KERNEL_MAX_UNPACKED_BYTES} bytes): ${error.message}`,
            { cause: error },
          ),
        );
      else resolve(out);
    });
  });
}

function assertArm64Image(image: Buffer, file: string): void {
  if (image.length >= ARM64_HEADER_BYTES && image.readUInt32LE(56) === ARM64_MAGIC) {
    if ((image.readUInt32LE(24) & 1) === 1)
      throw new VirtualPiError(
        'KERNEL_NOT_ARM64',
        `${file} is a big-endian arm64 kernel; -M virt boots little-endian`,
      );
    return;
  }
  const what =
    image.length >= 0x28 && image.readUInt32LE(0x24) === ZIMAGE_MAGIC
      ? 'a 32-bit ARM zImage (set arm_64bit=1 and use a 64-bit kernel8.img)'
      : image.length >= 8 &&
          image.subarray(0, 2).toString('latin1') === 'MZ' &&
          image.subarray(4, 8).toString('latin1') === 'zimg'
        ? 'an EFI zboot kernel (U-Boot booti and the Pi firmware need a plain or gzip Image)'
        : 'not a Linux arm64 Image (no "ARM\\x64" magic at byte 56)';
  throw new VirtualPiError('KERNEL_NOT_ARM64', `${file} is ${what}`);
}

/** `Linux version 6.1.0-… (…) #1 SMP …` (linux_banner), at most 200 characters. */
function linuxBanner(image: Buffer): string | undefined {
  const at = image.indexOf('Linux version ', 0, 'latin1');
  if (at < 0) return undefined;
  return /^[^\0\n]{1,200}/.exec(image.subarray(at, at + 200).toString('latin1'))?.[0];
}

/** A compatible string as an of_device_id entry: NUL before and after (no prefix/suffix matches). */
function hasCompatible(image: Buffer, compatible: string): boolean {
  return image.indexOf(Buffer.from(`\0${compatible}\0`, 'latin1')) >= 0;
}
