/** Boot-storm pacing: the admission rules (pure), the release judgement and the gate's held replies. */
import type { ProxyClient } from '@bramble/dhcp';
import { describe, expect, it } from 'vitest';
import {
  type AdmissionLimits,
  AdmissionQueue,
  BootGate,
  BootTimeline,
  type BootView,
  type GateSettings,
  releaseReason,
  renderPacingMetrics,
} from '../src/index.js';

const limits: AdmissionLimits = {
  maxConcurrentBoots: 2,
  maxUnknownBoots: 1,
  maxWaiting: 4,
  waitingExpireMs: 10_000,
  bootTimeoutMs: 60_000,
  unknownSlotMs: 5_000,
  rescueHalting: true,
};

describe('AdmissionQueue', () => {
  it('admits up to the limit, then serves the line first come, first served', () => {
    const queue = new AdmissionQueue(limits);
    expect(queue.request('a', 'known', 0).status).toBe('admitted');
    expect(queue.request('b', 'known', 1).status).toBe('admitted');
    expect(queue.request('c', 'known', 2)).toEqual({ status: 'waiting', position: 1 });
    expect(queue.request('d', 'known', 3)).toEqual({ status: 'waiting', position: 2 });
    // Asking again keeps the place in line; a node with a slot is admitted again.
    expect(queue.request('d', 'known', 4)).toEqual({ status: 'waiting', position: 2 });
    expect(queue.request('a', 'known', 4).status).toBe('admitted');
    queue.release('a', 'booted');
    expect(queue.settle(5).map((slot) => slot.key)).toEqual(['c']);
    queue.release('b', 'failed');
    const [next] = queue.settle(6);
    expect(next).toMatchObject({ key: 'd', kind: 'known', admittedAt: 6, waitedMs: 3 });
    expect(queue.peakBooting).toBe(2);
    expect(queue.counters.released).toMatchObject({ booted: 1, failed: 1 });
  });

  it('admits known nodes before unknown ones and caps the unknown slots', () => {
    const queue = new AdmissionQueue({ ...limits, maxConcurrentBoots: 3, maxWaiting: 10 });
    queue.request('x', 'known', 0);
    queue.request('y', 'known', 0);
    queue.request('z', 'known', 0);
    expect(queue.request('u1', 'unknown', 1)).toEqual({ status: 'waiting', position: 1 });
    expect(queue.request('k1', 'known', 2)).toEqual({ status: 'waiting', position: 1 });
    expect(queue.request('u2', 'unknown', 3)).toEqual({ status: 'waiting', position: 3 });
    for (const key of ['x', 'y', 'z']) queue.release(key, 'booted');
    // k1 came after u1 but is known; only one unknown may boot at once.
    expect(queue.settle(4).map((slot) => slot.key)).toEqual(['k1', 'u1']);
    expect(queue.waiting('unknown').map((waiter) => waiter.key)).toEqual(['u2']);
    // The unknown slot expires after unknownSlotMs; then u2 gets its turn.
    expect(queue.settle(4 + 5_000).map((slot) => slot.key)).toEqual(['u2']);
    expect(queue.counters.released.expired).toBe(1);
  });

  it('serves a waiter that will give up (a Pi 3 ROM) before those that keep retrying, earliest deadline first', () => {
    const queue = new AdmissionQueue({ ...limits, maxConcurrentBoots: 1, maxWaiting: 10 });
    queue.request('busy', 'known', 0);
    queue.request('pi4', 'known', 1);
    queue.request('pi3-late', 'known', 2, 30_000);
    queue.request('pi3-early', 'known', 3, 20_000);
    const order: string[] = [];
    for (let step = 0; step < 3; step++) {
      queue.release(queue.booting()[0]?.key ?? '', 'booted');
      order.push(...queue.settle(10 + step).map((slot) => slot.key));
    }
    expect(order).toEqual(['pi3-early', 'pi3-late', 'pi4']);
  });

  it('admits a waiter above the limit when its deadline comes, unless rescueHalting is off', () => {
    for (const rescueHalting of [true, false]) {
      const queue = new AdmissionQueue({ ...limits, maxConcurrentBoots: 1, rescueHalting });
      queue.request('busy', 'known', 0);
      queue.request('pi3', 'known', 0, 15_000);
      queue.request('pi3', 'known', 9_000); // its retries keep it in line
      expect(queue.settle(14_999)).toEqual([]);
      const rescued = queue.settle(15_000).map((slot) => slot.key);
      expect(rescued).toEqual(rescueHalting ? ['pi3'] : []);
      expect(queue.counters.rescued).toBe(rescueHalting ? 1 : 0);
      expect(queue.peakBooting).toBe(rescueHalting ? 2 : 1);
    }
  });

  it('bounds the line: unknown newcomers are turned away, a known one pushes out the newest unknown', () => {
    const queue = new AdmissionQueue({ ...limits, maxConcurrentBoots: 1, maxWaiting: 2 });
    queue.request('busy', 'known', 0);
    queue.request('u1', 'unknown', 0);
    queue.request('u2', 'unknown', 0);
    expect(queue.request('u3', 'unknown', 0)).toEqual({ status: 'full' });
    expect(queue.request('k', 'known', 0)).toEqual({ status: 'waiting', position: 1 });
    expect(queue.waiting('unknown').map((waiter) => waiter.key)).toEqual(['u1']);
    expect(queue.counters).toMatchObject({ turnedAway: 1, dropped: 1 });
  });

  it('forgets waiters that stopped asking and takes back slots at the boot timeout', () => {
    const queue = new AdmissionQueue(limits);
    queue.request('a', 'known', 0);
    queue.request('b', 'known', 0);
    queue.request('gone', 'known', 0);
    queue.request('c', 'known', 9_000);
    expect(queue.settle(10_000)).toEqual([]);
    expect(queue.isWaiting('gone')).toBe(false);
    expect(queue.counters.dropped).toBe(1);
    queue.request('c', 'known', 59_000); // still asking
    expect(queue.settle(60_000).map((slot) => slot.key)).toEqual(['c']);
    expect(queue.counters.released.timeout).toBe(2);
  });

  it('keeps the admission log bounded', () => {
    const queue = new AdmissionQueue({ ...limits, maxConcurrentBoots: 1 });
    for (let index = 0; index < 300; index++) {
      queue.request(`n${index}`, 'known', index);
      queue.release(`n${index}`, 'booted');
    }
    expect(queue.recent()).toHaveLength(256);
    expect(queue.recent().at(-1)?.key).toBe('n299');
  });
});

function view(fields: Partial<BootView>): BootView {
  return {
    id: 1,
    node: 'rpi-a',
    startedAt: 0,
    startedBy: 'dhcp',
    lastEventAt: 0,
    dhcp: [],
    files: [],
    filesDropped: 0,
    state: 'booting',
    durationMs: 0,
    ...fields,
  };
}

describe('releaseReason', () => {
  const timings = { settleMs: 1_000, admitTimeoutMs: 15_000 };
  it('holds the slot while booting and releases it once the kernel is in and the node is quiet', () => {
    expect(releaseReason([view({ lastEventAt: 120 })], 100, 500, timings)).toBeUndefined();
    const up = view({ lastEventAt: 2_000, handoverAt: 2_000, state: 'up' });
    expect(releaseReason([up], 100, 2_500, timings)).toBeUndefined();
    expect(releaseReason([up], 100, 3_000, timings)).toBe('booted');
    const sending = view({
      ...up,
      files: [{ file: 'initramfs8', at: 2_000, bytes: 0, retransmits: 0, result: 'in-progress' }],
    });
    expect(releaseReason([sending], 100, 9_000, timings)).toBeUndefined();
    // A late duplicate request after the handover opens a newer record: the handover still counts.
    const stray = view({ id: 2, lastEventAt: 2_400, startedAt: 2_400, startedBy: 'tftp' });
    expect(releaseReason([stray, up], 100, 3_000, timings)).toBe('booted');
  });
  it('releases on failure, on userspace up, and when an admitted node never shows up', () => {
    expect(releaseReason([view({ lastEventAt: 200, state: 'failed' })], 100, 300, timings)).toBe('failed');
    expect(releaseReason([view({ lastEventAt: 200, userspaceUpAt: 250 })], 100, 300, timings)).toBe('booted');
    // An older boot's events (before admission) do not count as this boot's activity.
    const old = view({ lastEventAt: 50, state: 'failed' });
    expect(releaseReason([old], 100, 5_000, timings)).toBeUndefined();
    expect(releaseReason([old], 100, 15_100, timings)).toBe('no-show');
    expect(releaseReason([], 100, 15_100, timings)).toBe('no-show');
  });
});

describe('BootGate', () => {
  const settings: GateSettings = {
    enabled: true,
    ...limits,
    maxConcurrentBoots: 1,
    holdMs: 300,
    settleMs: 0,
    admitTimeoutMs: 1_000,
  };
  const client = (serial: string, mac: string): ProxyClient =>
    ({
      model: 'pi4',
      serial,
      mac,
      address: '0.0.0.0',
      port: 68,
      xid: 1,
      messageType: 1,
      via: 'dhcp',
      vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
    }) as ProxyClient;

  it('holds a DISCOVER without a slot and answers it the moment the slot frees', async () => {
    const timeline = new BootTimeline();
    timeline.setNodes([
      { hostname: 'rpi-a', serial: '1a2b3c01' },
      { hostname: 'rpi-b', serial: '1a2b3c02' },
    ]);
    const gate = new BootGate(settings, timeline, undefined);
    const first = client('1a2b3c01', 'dc:a6:32:00:00:01');
    expect(gate.decide(first)).toBe('boot');
    const held = gate.decide(client('1a2b3c02', 'dc:a6:32:00:00:02'));
    expect(held).toBeInstanceOf(Promise);
    expect(gate.snapshot()).toMatchObject({ held: 1, waiting: { known: 1, unknown: 0 } });
    // rpi-a's boot: offer, kernel fetched → slot released → rpi-b's held reply goes out.
    timeline.dhcpClient({ ...first, messageType: 1 });
    timeline.dhcpOffer({ mac: first.mac, via: 'dhcp' });
    const transfer = { remoteAddress: '10.0.0.5', remotePort: 1000, file: '1a2b3c01/kernel8.img' };
    timeline.tftpRequest(transfer);
    timeline.tftpEnd('complete', { ...transfer, bytes: 100 });
    gate.tick();
    await expect(held).resolves.toBe('boot');
    expect(gate.snapshot()).toMatchObject({
      booting: [{ key: 'rpi-b' }],
      released: { booted: 1 },
      recent: [{ key: 'rpi-a' }, { key: 'rpi-b' }],
    });
    gate.stop();
  });

  it("knows a Pi 3B by its serial-derived MAC (its ROM's DISCOVER has no serial) and lets it go first", async () => {
    const timeline = new BootTimeline();
    timeline.setNodes([
      { hostname: 'rpi-4', serial: '1a2b3c01', model: 'pi4' },
      { hostname: 'rpi-4b', serial: '1a2b3c02', model: 'pi4' },
      { hostname: 'rpi-3', serial: '00c0ffee', model: 'pi3b' },
    ]);
    const gate = new BootGate(settings, timeline, undefined);
    expect(gate.decide(client('1a2b3c01', 'dc:a6:32:00:00:01'))).toBe('boot');
    const pi4 = gate.decide(client('1a2b3c02', 'dc:a6:32:00:00:02'));
    const { serial: _none, ...noSerial } = client('', 'b8:27:eb:c0:ff:ee');
    const pi3 = gate.decide({ ...noSerial, model: 'pi3b' });
    expect(gate.snapshot().waiting).toEqual({ known: 2, unknown: 0 });
    timeline.tftpRequest({ remoteAddress: '10.0.0.5', remotePort: 1, file: '1a2b3c01/kernel8.img' });
    timeline.tftpEnd('complete', {
      remoteAddress: '10.0.0.5',
      remotePort: 1,
      file: '1a2b3c01/kernel8.img',
      bytes: 9,
    });
    gate.tick();
    // The Pi 3 asked after the second Pi 4 but halts after 25 s: it is admitted first.
    await expect(pi3).resolves.toBe('boot');
    expect(gate.snapshot().booting.map((slot) => slot.key)).toEqual(['rpi-3']);
    await expect(pi4).resolves.toBe('ignore');
    gate.stop();
  });

  it('leaves a DISCOVER unanswered after holdMs, passes REQUESTs and the OS DHCP, and can be off', async () => {
    const timeline = new BootTimeline();
    timeline.setNodes([{ hostname: 'rpi-a', serial: '1a2b3c01' }]);
    const gate = new BootGate(settings, timeline, undefined);
    expect(gate.decide(client('1a2b3c01', 'dc:a6:32:00:00:01'))).toBe('boot');
    const stranger = client('99999999', 'dc:a6:32:99:99:99');
    await expect(gate.decide(stranger)).resolves.toBe('ignore');
    expect(gate.snapshot()).toMatchObject({ unanswered: 1, waiting: { unknown: 1 } });
    expect(gate.decide({ ...stranger, messageType: 3 })).toBe('boot');
    expect(gate.decide({ ...stranger, vendorClass: 'udhcp 1.36' } as ProxyClient)).toBe('boot');
    const off = new BootGate({ ...settings, enabled: false }, timeline, undefined);
    expect(off.decide(stranger)).toBe('boot');
    gate.stop();
  });

  it('shows the gauges in Prometheus text', async () => {
    const timeline = new BootTimeline();
    timeline.setNodes([{ hostname: 'rpi-a', serial: '1a2b3c01' }]);
    const gate = new BootGate(settings, timeline, undefined);
    gate.decide(client('1a2b3c01', 'dc:a6:32:00:00:01'));
    const waiting = gate.decide(client('99999999', 'dc:a6:32:99:99:99'));
    const text = renderPacingMetrics(gate.snapshot());
    expect(text).toMatch(/^bramble_pacing_booting 1$/m);
    expect(text).toMatch(/^bramble_pacing_limit 1$/m);
    expect(text).toMatch(/^bramble_pacing_waiting\{class="unknown"\} 1$/m);
    expect(text).toMatch(/^bramble_pacing_admitted_total\{class="known"\} 1$/m);
    expect(text).toContain('# TYPE bramble_pacing_released_total counter');
    gate.stop();
    await expect(waiting).resolves.toBe('ignore');
  });
});
