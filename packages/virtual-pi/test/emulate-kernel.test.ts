/**
 * The `-M virt` kernel check against a real kernel: Debian's arm64 kernel from the cached test OS image
 * (scripts/build-test-os-image.sh, extracted with mtools as a user would copy it off the boot partition),
 * plain and gzip, and the same kernel without the generic PCIe host bridge, as Raspberry Pi OS's
 * bcm2711/bcm2712 kernels are built (CONFIG_PCIE_BRCMSTB only).
 * Skipped when the image is not cached (the real-boot test builds it: `bash scripts/build-test-os-image.sh`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { requireTool } from '@bramble/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkKernel,
  checkKernelFile,
  nodeBootFiles,
  requireVirtKernel,
  VirtualPiError,
} from '../src/index.js';

const CACHE = '/var/cache/bramble/test-os';
const image = existsSync(CACHE)
  ? readdirSync(CACHE)
      .filter((name) => /^test-os-.*\.img$/.test(name))
      .map((name) => join(CACHE, name))[0]
  : undefined;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(VirtualPiError);
    return `${(error as VirtualPiError).code}: ${(error as Error).message}`;
  }
  return 'no error';
}

describe.runIf(image)('kernel check with the Debian arm64 kernel of the test OS image', () => {
  let dir: string;
  let kernel: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bramble-emulate-kernel-'));
    const table = JSON.parse(
      execFileSync(requireTool('sfdisk'), ['-J', image as string], { encoding: 'utf8' }),
    ) as {
      partitiontable: { partitions: { start: number }[] };
    };
    const start = table.partitiontable.partitions[0]?.start ?? 0;
    for (const file of ['kernel8.img', 'config.txt', 'cmdline.txt', 'initramfs8'])
      execFileSync(requireTool('mcopy'), [
        '-n',
        '-i',
        `${image}@@${start * 512}`,
        `::${file}`,
        join(dir, file),
      ]);
    kernel = await readFile(join(dir, 'kernel8.img'));
  }, 120_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a generic arm64 kernel has everything -M virt needs', async () => {
    const check = requireVirtKernel(await checkKernelFile(join(dir, 'kernel8.img')));
    expect(check.missing).toEqual([]);
    expect(check.present).toEqual([
      'pci-host-ecam-generic',
      'arm,pl011',
      'arm,cortex-a15-gic',
      'arm,armv8-timer',
    ]);
    expect(check.compression).toBe('none');
    expect(check.pageSizeKiB).toBe(4);
    expect(check.version).toMatch(/^Linux version \d+\.\d+\.\d+/);
    // Debian's generic kernel also drives the Pi 4 (it carries the Broadcom SoC support too).
    expect(check.piSocs).toContain('brcm,bcm2711');
  });

  it('the same kernel gzip-compressed (as the firmware and booti accept it)', async () => {
    const check = await checkKernel(gzipSync(kernel, { level: 1 }), 'kernel8.img.gz');
    expect(check.compression).toBe('gzip');
    expect(check.imageBytes).toBe(kernel.length);
    expect(check.missing).toEqual([]);
  });

  it('without the generic PCIe host (a Raspberry Pi OS build) it is refused with KERNEL_PI_ONLY', async () => {
    const piOnly = Buffer.from(kernel);
    const entry = Buffer.from('\0pci-host-ecam-generic\0', 'latin1');
    for (let at = piOnly.indexOf(entry); at >= 0; at = piOnly.indexOf(entry, at + 1))
      piOnly.write('\0brcm,bcm2711-pcie\0\0\0\0\0', at, 'latin1');
    const check = await checkKernel(piOnly, 'kernel8.img');
    expect(check.missing.map((m) => m.compatible)).toEqual(['pci-host-ecam-generic']);
    const message = await codeOf((async () => requireVirtKernel(check))());
    expect(message).toMatch(/^KERNEL_PI_ONLY: /);
    expect(message).toContain('built for Raspberry Pi boards only (brcm,bcm2711');
    expect(message).toContain('CONFIG_PCI_HOST_GENERIC');
    expect(message).toContain('linux-image-arm64');
  });

  it('reads the node tree as the firmware would: kernel=, initramfs, cmdline.txt', async () => {
    const files = await nodeBootFiles({ dir, model: 'pi4' });
    expect(files.kernel).toBe(join(dir, 'kernel8.img'));
    expect(files.kernelWhy).toBe('kernel= in config.txt');
    expect(files.initramfs).toBe(join(dir, 'initramfs8'));
    expect(files.cmdline).toBe((await readFile(join(dir, 'cmdline.txt'), 'utf8')).trim());
  });
});

describe('kernel check: what is not an arm64 kernel', () => {
  it('a 32-bit zImage, text, a truncated file and a gzip bomb are KERNEL_NOT_ARM64', async () => {
    const zImage = Buffer.alloc(0x40);
    zImage.writeUInt32LE(0x016f2818, 0x24);
    expect(await codeOf(checkKernel(zImage, 'kernel7l.img'))).toMatch(
      /^KERNEL_NOT_ARM64: .*32-bit ARM zImage/,
    );
    expect(await codeOf(checkKernel(Buffer.from('#!/bin/sh\n'), 'kernel8.img'))).toMatch(
      /^KERNEL_NOT_ARM64: .*no "ARM\\x64" magic/,
    );
    expect(await codeOf(checkKernel(Buffer.alloc(0), 'kernel8.img'))).toMatch(/^KERNEL_NOT_ARM64/);
    // 300 gzip members of 1 MiB of zeros each (RFC 1952 allows concatenated members): 300 MiB unpacked.
    const member = gzipSync(Buffer.alloc(1024 * 1024));
    const bomb = Buffer.concat(Array.from({ length: 300 }, () => member));
    expect(await codeOf(checkKernel(bomb, 'kernel8.img'))).toMatch(/^KERNEL_NOT_ARM64: .*does not unpack/);
  });

  it('a missing kernel, and config.txt naming a file outside the node directory, are KERNEL_NOT_FOUND', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bramble-emulate-tree-'));
    try {
      expect(await codeOf(checkKernelFile(join(dir, 'kernel8.img')))).toMatch(/^KERNEL_NOT_FOUND/);
      expect(await codeOf(nodeBootFiles({ dir, model: 'pi4' }))).toMatch(
        /^KERNEL_NOT_FOUND: no kernel in .* \(the firmware would try kernel8\.img/,
      );
      await mkdir(join(dir, 'node'));
      await writeFile(join(dir, 'node', 'config.txt'), 'kernel=../../../etc/passwd\n');
      expect(await codeOf(nodeBootFiles({ dir: join(dir, 'node'), model: 'pi4' }))).toMatch(
        /^KERNEL_NOT_FOUND: config.txt names '..\/..\/..\/etc\/passwd', outside/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
