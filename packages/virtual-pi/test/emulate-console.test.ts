/**
 * ConsoleWatch on a real serial console: rb-node-02 of apps/cli/test/real-boot.test.ts (U-Boot 2023.01 →
 * brambled TFTP → Debian 6.1 kernel → initramfs-tools NFS root → systemd 252 → agetty), captured verbatim.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsoleWatch, type EmulationEvent } from '../src/index.js';

const text = readFileSync(join(import.meta.dirname, 'fixtures', 'uboot-nfs-boot.console.log'), 'latin1');

function replay(chunkSize: number): EmulationEvent[] {
  const seen: EmulationEvent[] = [];
  const watch = new ConsoleWatch((event) => seen.push(event));
  for (let at = 0; at < text.length; at += chunkSize) watch.feed(text.slice(at, at + chunkSize), at);
  expect(watch.events).toEqual(seen);
  return seen;
}

describe('ConsoleWatch on a captured U-Boot → NFS root boot', () => {
  it('finds every milestone once, in boot order, however the console is chunked', () => {
    for (const size of [1, 61, 997, text.length]) {
      const kinds = replay(size).map((event) => event.kind);
      expect(kinds, `chunks of ${size}`).toEqual([
        'firmware',
        'dhcp',
        'tftp-file',
        'tftp-file',
        'tftp-file',
        'tftp-file',
        'bootargs',
        'kernel',
        'initramfs',
        'kernel-dhcp',
        'nfs-root',
        'systemd',
        'login',
      ]);
    }
  });

  it("reads U-Boot's TFTP sizes and rates, the addresses and the hostname on the prompt", () => {
    const events = replay(4096);
    const files = events.flatMap((event) => (event.file ? [event.file] : []));
    expect(files.map((file) => file.name)).toEqual([
      'boot.scr.uimg',
      '52-54-00-b7-00-02/kernel8.img',
      '52-54-00-b7-00-02/initramfs8',
      '52-54-00-b7-00-02/cmdline.txt',
    ]);
    expect(files[1]).toEqual({ name: '52-54-00-b7-00-02/kernel8.img', bytes: 32956352, rate: '4.6 MiB/s' });
    expect(events.find((event) => event.kind === 'dhcp')?.value).toBe('10.253.51.12');
    expect(events.find((event) => event.kind === 'kernel-dhcp')?.value).toBe('10.253.51.12');
    expect(events.find((event) => event.kind === 'login')?.value).toBe('rb-node-02');
  });

  it('a TFTP error and a kernel panic are milestones too', () => {
    const watch = new ConsoleWatch();
    watch.feed(
      "Filename '52-54-00-b7-00-02/kernel8.img'.\r\nLoad address: 0x40400000\r\nLoading: *\r\nTFTP error: 'File not found' (1)\r\n",
      10,
    );
    watch.feed(
      '[    9.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r\n',
      20,
    );
    expect(watch.events.map((event) => [event.kind, event.text])).toEqual([
      ['tftp-error', "TFTP error: 'File not found' (1)"],
      ['panic', 'kernel panic: VFS: Unable to mount root fs on unknown-block(0,0)'],
    ]);
  });
});
