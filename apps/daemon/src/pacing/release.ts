/**
 * When an admitted manifest node's boot slot goes back, judged from its boot timeline: the kernel
 * (and the initramfs after it) fetched and the node quiet for a moment, userspace up, the boot
 * failed, or the node never came back for its offer.
 */
import type { BootView } from '../timeline/index.js';
import type { ReleaseReason } from './admission.js';

export interface ReleaseTimings {
  /** Quiet time after the kernel/initramfs before the slot is released (more files may follow). */
  settleMs: number;
  /** An admitted node that shows no boot activity for this long has not come back. */
  admitTimeoutMs: number;
}

/** The reason to release the slot now, or undefined while the boot holds it. */
export function releaseReason(
  latest: BootView | undefined,
  admittedAt: number,
  now: number,
  timings: ReleaseTimings,
): ReleaseReason | undefined {
  const active = latest !== undefined && latest.lastEventAt >= admittedAt;
  if (!active) return now - admittedAt >= timings.admitTimeoutMs ? 'no-show' : undefined;
  if (latest.userspaceUpAt !== undefined && latest.userspaceUpAt >= admittedAt) return 'booted';
  if (latest.state === 'failed') return 'failed';
  if (latest.state !== 'up') return undefined;
  const sending = latest.files.some((file) => file.result === 'in-progress');
  return !sending && now - latest.lastEventAt >= timings.settleMs ? 'booted' : undefined;
}
