/**
 * `bramble doctor --emulate` refusals, before any VM starts (the full QEMU boot through it is in
 * real-boot.test.ts; the kernel check against Debian's real kernel is in @bramble/virtual-pi's tests).
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bramble, sampleImage, tempDir } from './helpers.js';

describe('bramble doctor --emulate: says why a node cannot be emulated (exit 2)', () => {
  let dir: string;
  const nodeDir = () => join(dir, 'state', 'tftp', 'dc-a6-32-01-36-c2');

  beforeAll(async () => {
    dir = await tempDir('emulate');
    await copyFile(sampleImage, join(dir, 'raspios.img.xz'));
    const add = await bramble(
      [
        'node',
        'add',
        'emu-01',
        '--mac',
        'dc:a6:32:01:36:c2',
        '--image',
        './raspios.img.xz',
        '--nfs-server',
        '192.168.1.10',
        '--state',
        './state',
      ],
      { cwd: dir, timeout: 300_000 },
    );
    expect(add.exitCode, add.stderr).toBe(0);
  }, 320_000);

  it('names the missing flag and the unknown node', async () => {
    const noBridge = await bramble(['doctor', '--emulate', 'emu-01'], { cwd: dir });
    expect(noBridge.exitCode).toBe(2);
    expect(noBridge.stderr).toContain('--emulate needs --bridge BR');
    const unknown = await bramble(['doctor', '--emulate', 'nope', '--bridge', 'br0'], { cwd: dir });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("no node 'nope'");
  });

  it('a kernel that is not an arm64 Image: KERNEL_NOT_ARM64', async () => {
    // The sample image's kernel8.img is a stand-in file, not a kernel.
    const r = await bramble(['doctor', '--emulate', 'emu-01', '--bridge', 'br0'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/\[KERNEL_NOT_ARM64\] .*kernel8\.img is /);
  });

  it("an arm64 Image without -M virt's PCIe host and UART (a Pi-only build): KERNEL_PI_ONLY, what to do instead", async () => {
    // arm64 Image header (booting.rst): magic "ARM\x64" at byte 56, flags = 4K pages; then a Pi 4 driver table.
    const header = Buffer.alloc(64);
    header.writeUInt32LE(0b010, 24);
    header.writeUInt32LE(0x644d5241, 56);
    const body = Buffer.from('\0brcm,bcm2711-pcie\0arm,cortex-a15-gic\0arm,armv8-timer\0', 'latin1');
    await writeFile(join(nodeDir(), 'kernel8.img'), Buffer.concat([header, body]));
    const r = await bramble(['doctor', '--emulate', 'emu-01', '--bridge', 'br0'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain('[KERNEL_PI_ONLY]');
    expect(r.stderr).toContain('built for Raspberry Pi boards only (brcm,bcm2711)');
    expect(r.stderr).toContain('pci-host-ecam-generic');
    expect(r.stderr).toContain('arm,pl011');
    expect(r.stderr).toContain('linux-image-arm64');
  });

  it('reads the kernel config.txt names: a missing kernel= file is KERNEL_NOT_FOUND', async () => {
    const config = join(nodeDir(), 'config.txt');
    await writeFile(config, `${await readFile(config, 'utf8')}\nkernel=vmlinuz-generic\n`);
    const r = await bramble(['doctor', '--emulate', 'emu-01', '--bridge', 'br0'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /\[KERNEL_NOT_FOUND\] no kernel in .* \(the firmware would try vmlinuz-generic: kernel= in config\.txt\)/,
    );
  });
});
