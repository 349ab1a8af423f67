/**
 * The firmware files of a Raspberry Pi OS boot partition, with small stand-in sizes (the names are what a
 * boot asks for; the bytes are made up by each test). Kernels and initramfs are left to the caller.
 */
export const PI_OS_FIRMWARE_SIZES: Readonly<Record<string, number>> = {
  'start.elf': 40_000,
  'fixup.dat': 7_000,
  'start4.elf': 45_000,
  'fixup4.dat': 5_400,
  'bcm2710-rpi-3-b.dtb': 3_000,
  'bcm2710-rpi-3-b-plus.dtb': 3_100,
  'bcm2711-rpi-4-b.dtb': 5_000,
  'bcm2711-rpi-400.dtb': 5_100,
  'bcm2711-rpi-cm4.dtb': 5_200,
  'bcm2712-rpi-5-b.dtb': 7_000,
  'bcm2712-rpi-500.dtb': 7_100,
  'bcm2712-rpi-cm5-cm5io.dtb': 7_200,
  'overlays/vc4-kms-v3d.dtbo': 1_500,
};
