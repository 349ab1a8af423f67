/** Prometheus series of the boot timeline: a boot duration histogram and failures by stage. */
import type { BootView, FailureStage } from './types.js';

/** Upper bounds (seconds) of the boot duration histogram's buckets. */
export const BOOT_DURATION_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300] as const;

const STAGES: readonly FailureStage[] = ['dhcp', 'bootloader', 'firmware', 'kernel'];

export class BootMetrics {
  private readonly buckets = BOOT_DURATION_BUCKETS.map(() => 0);
  private count = 0;
  private sum = 0;
  private readonly failures = new Map<FailureStage, number>(STAGES.map((s) => [s, 0]));

  /** Count a boot that reached its kernel handover or failed (each boot once). */
  observe(boot: BootView): void {
    if (boot.state === 'up') {
      const secondsTaken = boot.durationMs / 1000;
      this.count += 1;
      this.sum += secondsTaken;
      BOOT_DURATION_BUCKETS.forEach((bound, i) => {
        if (secondsTaken <= bound) this.buckets[i] = (this.buckets[i] ?? 0) + 1;
      });
    } else if (boot.state === 'failed' && boot.failure) {
      const stage = boot.failure.stage;
      this.failures.set(stage, (this.failures.get(stage) ?? 0) + 1);
    }
  }

  /** Exposition text (format 0.0.4), appended to brambled's /metrics. */
  render(): string {
    const lines = [
      '# HELP bramble_boot_duration_seconds Time from the first DHCP/TFTP request of a boot to the kernel handover.',
      '# TYPE bramble_boot_duration_seconds histogram',
      ...BOOT_DURATION_BUCKETS.map(
        (bound, i) => `bramble_boot_duration_seconds_bucket{le="${bound}"} ${this.buckets[i] ?? 0}`,
      ),
      `bramble_boot_duration_seconds_bucket{le="+Inf"} ${this.count}`,
      `bramble_boot_duration_seconds_sum ${Math.round(this.sum * 1000) / 1000}`,
      `bramble_boot_duration_seconds_count ${this.count}`,
      '# HELP bramble_boot_failures_total Boots that stopped before the kernel handover, by stage.',
      '# TYPE bramble_boot_failures_total counter',
      ...STAGES.map(
        (stage) => `bramble_boot_failures_total{stage="${stage}"} ${this.failures.get(stage) ?? 0}`,
      ),
    ];
    return `${lines.join('\n')}\n`;
  }
}
