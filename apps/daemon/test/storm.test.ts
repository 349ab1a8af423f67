/**
 * A boot storm with pacing: 30 virtual Pis of mixed models (24 in the manifest, 6 unknown) power on
 * together in one network namespace, brambled serves them from another, with UDP loss both ways and
 * a capacity-limited link. Every Pi boots, brambled never lets more than the limit boot at once (as
 * measured from its own boot timeline), and known nodes are admitted before unknown ones.
 */
import { isRoot, requireTool } from '@bramble/testkit';
import { describe, expect, it } from 'vitest';
import { peakConcurrentBoots, runStorm, type StormRun } from './storm/run-storm.js';

const LIMIT = 8;

describe.skipIf(!isRoot())('boot storm with pacing (network namespaces)', () => {
  it('boots every Pi, never more than the limit at once, known nodes first', async () => {
    requireTool('nft');
    const run: StormRun = await runStorm({
      known: 24,
      unknown: 6,
      models: ['pi4', 'pi5', 'pi3b+', 'cm4', 'pi3b', 'pi500'],
      unknownModels: ['pi4', 'pi5'],
      lossPercent: 0.5,
      linkMBps: 4,
      sizes: { kernel: 200_000, initramfs: 300_000 },
      pacing: { enabled: true, maxConcurrentBoots: LIMIT, maxUnknownBoots: 2, unknownSlotMs: 5_000 },
      timeoutMs: 240_000,
      restarts: 20,
    });
    const { pis, server } = run;
    expect(pis.reasons).toEqual({});
    expect(pis.booted).toBe(30);
    // Server side, two ways: the gate's own high-water mark, and the overlap of the boots brambled
    // recorded (first offer to last file) — both within the limit, and the limit was reached.
    // Pi 3 ROMs went first (earliest deadline), so none had to be let in above the limit.
    expect(server.pacing.rescued).toBe(0);
    expect(server.pacing.peakBooting).toBe(LIMIT);
    const measured = peakConcurrentBoots(server);
    expect(measured).toBeLessThanOrEqual(LIMIT);
    expect(measured).toBeGreaterThan(1);
    expect(server.pacing.admitted).toEqual({ known: 24, unknown: 6 });
    // Priority: when an unknown Pi was admitted, every known node that had asked before was in already.
    const firstAsked = new Map<string, number>();
    for (const node of server.nodes) {
      const asked = node.boots.flatMap((boot) =>
        boot.firstDiscoverAt === undefined ? [] : [boot.firstDiscoverAt],
      );
      firstAsked.set(node.node, Math.min(...asked));
    }
    const admittedAt = new Map(server.pacing.recent.map((slot) => [slot.key, slot.admittedAt]));
    for (const slot of server.pacing.recent.filter((entry) => entry.kind === 'unknown'))
      for (const [node, asked] of firstAsked)
        if (asked < slot.admittedAt) expect(admittedAt.get(node), node).toBeLessThanOrEqual(slot.admittedAt);
    // Nobody was dropped: the waiting Pis were answered later (held replies or their next DISCOVER).
    expect(server.pacing.dropped).toBe(0);
    expect(server.pacing.turnedAway).toBe(0);
    expect(pis.pis.some((pi) => pi.discovers > 1)).toBe(true);
  }, 400_000);
});
