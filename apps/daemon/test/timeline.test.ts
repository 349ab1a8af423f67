import { firmwareFileRoles } from '@bramble/virtual-pi';
import { describe, expect, it } from 'vitest';
import {
  type BootRecord,
  type BootRules,
  BootTimeline,
  fileResult,
  judgeBoot,
  requestStartsBoot,
  safeFileName,
} from '../src/index.js';

const roles = firmwareFileRoles();
const rules: BootRules = { stallMs: 7000, quietGapMs: 30_000, roles };
const serial = '1a2b3c01';
const mac = 'dc:a6:32:2b:3c:01';

function record(partial: Partial<BootRecord>): BootRecord {
  return {
    id: 1,
    node: 'rpi-a',
    startedAt: 1000,
    startedBy: 'tftp',
    lastEventAt: 1000,
    dhcp: [],
    files: [],
    filesDropped: 0,
    ...partial,
  };
}

/** A timeline with one pi4 node and a hand-driven clock. */
function timeline(options: { maxBoots?: number; maxFiles?: number } = {}) {
  const clock = { now: 10_000 };
  const t = new BootTimeline({ stallMs: 7000, quietGapMs: 30_000, now: () => clock.now, ...options });
  t.setNodes([{ hostname: 'rpi-a', serial, model: 'pi4' }]);
  let port = 40_000;
  const fetch = (file: string, end: 'complete' | 'aborted' | 'failed', extra: object = {}) => {
    port += 1;
    const seen = { file: `${serial}/${file}`, remoteAddress: '10.0.0.5', remotePort: port };
    t.tftpRequest(seen);
    clock.now += 100;
    t.tftpEnd(end, { ...seen, bytes: 4096, durationMs: 100, retransmits: 0, blocks: 8, ...extra });
  };
  return { t, clock, fetch };
}

describe('fileResult', () => {
  it('tells probes, expected-missing, optional and missing files apart', () => {
    expect(fileResult('start4.elf', { outcome: 'complete' }, roles)).toBe('complete');
    expect(fileResult('start4.elf', { outcome: 'aborted', options: { tsize: '0' } }, roles)).toBe('probe');
    expect(fileResult('pieeprom.sig', { outcome: 'failed', errorCode: 'NOT_FOUND' }, roles)).toBe(
      'expected-missing',
    );
    expect(fileResult('recovery.elf', { outcome: 'failed', errorCode: 'NOT_FOUND' }, roles)).toBe(
      'expected-missing',
    );
    expect(fileResult('config.txt', { outcome: 'failed', errorCode: 'NOT_FOUND' }, roles)).toBe(
      'optional-missing',
    );
    expect(fileResult('bcm2711-rpi-4-b.dtb', { outcome: 'failed', errorCode: 'NOT_FOUND' }, roles)).toBe(
      'missing',
    );
    expect(fileResult('kernel8.img', { outcome: 'failed', errorCode: 'TIMEOUT' }, roles)).toBe('failed');
  });
});

describe('judgeBoot', () => {
  it('DHCP offers but no TFTP request: points at option 43 / STP', () => {
    const boot = record({
      startedBy: 'dhcp',
      dhcp: [
        { kind: 'discover', at: 1000, via: 'dhcp' },
        { kind: 'offer', at: 1001, via: 'dhcp' },
      ],
      lastEventAt: 1001,
    });
    expect(judgeBoot(boot, 5000, rules).state).toBe('booting');
    const view = judgeBoot(boot, 9000, rules);
    expect(view.state).toBe('failed');
    expect(view.failure).toEqual({
      stage: 'dhcp',
      reason: 'DHCP offers but no TFTP request — check option 43 / STP on the switch port',
    });
  });

  it('stalled after start4.elf (no request for 7 s)', () => {
    const boot = record({
      files: [
        { file: 'start4.elf', at: 1000, endAt: 1500, bytes: 9, retransmits: 0, result: 'complete' },
        { file: 'fixup4.dat', at: 1500, endAt: 1600, bytes: 9, retransmits: 0, result: 'complete' },
      ],
      lastEventAt: 1600,
    });
    const view = judgeBoot(boot, 9000, rules);
    expect(view.failure).toEqual({
      stage: 'firmware',
      reason: 'stalled after fixup4.dat (no request for 7 s)',
    });
    expect(view.durationMs).toBe(600);
  });

  it('a missing file it needed is named', () => {
    const boot = record({
      files: [
        { file: 'start4.elf', at: 1000, endAt: 1500, bytes: 9, retransmits: 0, result: 'complete' },
        { file: 'bcm2711-rpi-4-b.dtb', at: 1600, endAt: 1610, bytes: 0, retransmits: 0, result: 'missing' },
      ],
      lastEventAt: 1610,
    });
    expect(judgeBoot(boot, 9000, rules).failure?.reason).toBe(
      'asked for a file that is missing: bcm2711-rpi-4-b.dtb',
    );
  });

  it('up once the kernel was handed over, however long it stays quiet', () => {
    const boot = record({ handoverAt: 4000, kernel: 'kernel8.img', lastEventAt: 4000 });
    const view = judgeBoot(boot, 1_000_000, rules);
    expect(view).toMatchObject({ state: 'up', durationMs: 3000 });
    expect(view.failure).toBeUndefined();
  });
});

describe('a transfer in flight', () => {
  it('a slow kernel download is not a stall; a transfer that never ends is', () => {
    const boot = record({
      files: [
        { file: 'start4.elf', at: 1000, endAt: 1500, bytes: 9, retransmits: 0, result: 'complete' },
        { file: 'kernel8.img', at: 1600, bytes: 0, retransmits: 0, result: 'in-progress' },
      ],
      lastEventAt: 1600,
    });
    expect(judgeBoot(boot, 61_600, rules).state).toBe('booting');
    expect(judgeBoot(boot, 400_000, rules).failure).toEqual({
      stage: 'kernel',
      reason: 'stalled while sending kernel8.img (no end after 300 s)',
    });
  });
});

describe('requestStartsBoot', () => {
  it('a start file after the kernel or after a quiet gap begins a new boot; other files do not', () => {
    const booting = record({ lastEventAt: 1000 });
    expect(requestStartsBoot(booting, 'config.txt', 2000, rules)).toBe(false);
    expect(requestStartsBoot(booting, 'start4.elf', 2000, rules)).toBe(false);
    expect(requestStartsBoot(booting, 'config.txt', 40_000, rules)).toBe(true);
    const up = record({ handoverAt: 3000, lastEventAt: 3000 });
    expect(requestStartsBoot(up, 'start4.elf', 4000, rules)).toBe(true);
    expect(requestStartsBoot(up, 'cmdline.txt', 4000, rules)).toBe(false);
  });
});

describe('BootTimeline', () => {
  it('records a pi4 boot step by step and hands over at the kernel', () => {
    const { t, clock, fetch } = timeline();
    const vendorClass = 'PXEClient:Arch:00000:UNDI:002001';
    t.dhcpClient({ serial, mac, address: '0.0.0.0', messageType: 1, via: 'dhcp', vendorClass });
    t.dhcpOffer({ mac, via: 'dhcp' });
    t.dhcpClient({ serial, mac, address: '0.0.0.0', messageType: 3, via: 'dhcp' });
    fetch('start4.elf', 'aborted', { options: { tsize: '0' }, blocks: 0, bytes: 0 });
    fetch('pieeprom.sig', 'failed', { error: { code: 'NOT_FOUND', message: 'not found' } });
    fetch('start4.elf', 'complete', { bytes: 2_000_000, durationMs: 400 });
    expect(t.fleet()[0]?.state).toBe('booting');
    fetch('kernel8.img', 'complete');
    // Linux's own DHCP from the same MAC (no PXEClient) after the handover starts no boot.
    t.dhcpClient({ mac, address: '0.0.0.0', messageType: 1, via: 'dhcp' });
    t.dhcpOffer({ mac, via: 'dhcp' });
    t.dhcpClient({ mac, address: '0.0.0.0', messageType: 3, via: 'dhcp' });
    clock.now += 60_000;
    t.tick();
    expect(t.boots('rpi-a')).toHaveLength(1);
    const [boot] = t.boots('rpi-a') ?? [];
    expect(boot).toMatchObject({ id: 1, startedBy: 'dhcp', state: 'up', kernel: 'kernel8.img' });
    expect(boot?.dhcp.map((d) => d.kind)).toEqual(['discover', 'offer', 'request']);
    expect(boot?.files.map((f) => [f.file, f.result])).toEqual([
      ['start4.elf', 'probe'],
      ['pieeprom.sig', 'expected-missing'],
      ['start4.elf', 'complete'],
      ['kernel8.img', 'complete'],
    ]);
    expect(boot?.files[2]).toMatchObject({ bytes: 2_000_000, rate: 5_000_000 });
    expect(t.fleet()[0]).toMatchObject({ node: 'rpi-a', state: 'up', address: '10.0.0.5' });
    expect(t.metrics.render()).toContain('bramble_boot_duration_seconds_count 1');
  });

  it('file names from the network are stored without control characters, bounded in length', () => {
    const { t } = timeline();
    t.tftpRequest({ file: `${serial}/\u001b]0;pwned\u0007x.elf`, remoteAddress: '10.0.0.5', remotePort: 7 });
    t.tftpRequest({ file: `${serial}/${'a'.repeat(5000)}`, remoteAddress: '10.0.0.5', remotePort: 8 });
    const files = t.boots('rpi-a')?.[0]?.files ?? [];
    expect(files[0]?.file).toBe('?]0;pwned?x.elf');
    expect(files[1]?.file).toHaveLength(256);
    expect(safeFileName('start4.elf')).toBe('start4.elf');
  });

  it('unknown serials and addresses create no nodes', () => {
    const { t } = timeline();
    t.tftpRequest({ file: '9ffefdef/start4.elf', remoteAddress: '10.0.0.9', remotePort: 1 });
    t.tftpRequest({ file: 'bootcode.bin', remoteAddress: '10.0.0.9', remotePort: 2 });
    t.dhcpClient({
      serial: '9ffefdef',
      mac: 'dc:a6:32:ff:ff:ff',
      address: '0.0.0.0',
      messageType: 1,
      via: 'dhcp',
    });
    expect(t.fleet()).toEqual([{ node: 'rpi-a', model: 'pi4', serial, state: 'never-seen', boots: 0 }]);
    expect(t.boots('nobody')).toBeUndefined();
  });

  it('keeps the last N boots and a bounded number of files per boot', () => {
    const { t, clock, fetch } = timeline({ maxBoots: 3, maxFiles: 5 });
    for (let i = 0; i < 6; i++) {
      fetch('start4.elf', 'complete');
      fetch('kernel8.img', 'complete');
      clock.now += 1000;
    }
    const boots = t.boots('rpi-a') ?? [];
    expect(boots.map((b) => b.id)).toEqual([6, 5, 4]);
    for (let i = 0; i < 20; i++) fetch('overlays/x.dtbo', 'complete');
    const latest = t.boots('rpi-a')?.[0];
    expect(latest?.files).toHaveLength(5);
    expect(latest?.filesDropped).toBe(17);
  });

  it('a stall fails the boot on the next tick and counts it by stage', () => {
    const { t, clock, fetch } = timeline();
    const changes: string[] = [];
    t.on('change', (n: string) => changes.push(n));
    fetch('start4.elf', 'complete');
    clock.now += 8000;
    changes.length = 0;
    t.tick();
    expect(changes).toEqual(['rpi-a']);
    expect(t.fleet()[0]).toMatchObject({
      state: 'failed',
      failure: { stage: 'firmware', reason: 'stalled after start4.elf (no request for 7 s)' },
    });
    expect(t.metrics.render()).toContain('bramble_boot_failures_total{stage="firmware"} 1');
    t.tick();
    expect(t.metrics.render()).toContain('bramble_boot_failures_total{stage="firmware"} 1');
  });

  it('userspace up only for the matching serial and address', () => {
    const { t, fetch } = timeline();
    fetch('kernel8.img', 'complete');
    expect(t.userspaceUp({ serial, address: '10.0.0.6' })).toBeUndefined();
    expect(t.userspaceUp({ serial: '9ffefdef', address: '10.0.0.5' })).toBeUndefined();
    expect(t.userspaceUp({ serial, address: '10.0.0.5' })).toBe('rpi-a');
    expect(t.boots('rpi-a')?.[0]?.userspaceUpAt).toBeDefined();
  });
});
