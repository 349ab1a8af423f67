import { describe, expect, it } from 'vitest';
import { firmwareFileRoles } from '../src/index.js';

describe('firmwareFileRoles', () => {
  const roles = firmwareFileRoles();
  it('names the files that start a boot on each model family', () => {
    expect([...roles.bootStart].sort()).toEqual(['bootcode.bin', 'config.txt', 'start.elf', 'start4.elf']);
  });
  it('tells expected-missing from optional and from required files', () => {
    for (const name of ['bootsig.bin', 'recovery.elf', 'recover4.elf', 'pieeprom.sig'])
      expect(roles.expectMissing.has(name), name).toBe(true);
    for (const name of ['config.txt', 'overlays/overlay_map.dtb', 'kernel7.img'])
      expect(roles.optional.has(name), name).toBe(true);
    for (const name of ['start4.elf', 'fixup4.dat', 'cmdline.txt', 'bcm2711-rpi-4-b.dtb']) {
      expect(roles.optional.has(name), name).toBe(false);
      expect(roles.expectMissing.has(name), name).toBe(false);
    }
  });
  it('knows the kernels, their auto_initramfs names and the second-stage firmware', () => {
    expect(roles.kernels).toEqual(
      new Set(['kernel8.img', 'kernel7.img', 'kernel.img', 'kernel7l.img', 'kernel_2712.img']),
    );
    expect(roles.initramfs.has('initramfs8')).toBe(true);
    expect(roles.initramfs.has('initramfs_2712')).toBe(true);
    expect(roles.firmware).toEqual(new Set(['start.elf', 'start4.elf']));
  });
});
