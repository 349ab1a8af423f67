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

/**
 * The reason to release the slot now, or undefined while the boot holds it. `boots` are the node's
 * boots, newest first; only activity since `admittedAt` counts. A boot that reached the handover
 * wins over a newer record a late duplicate request may have opened after it.
 */
export function releaseReason(
  boots: readonly BootView[],
  admittedAt: number,
  now: number,
  timings: ReleaseTimings,
): ReleaseReason | undefined {
  const since = boots.filter((boot) => boot.lastEventAt >= admittedAt);
  const latest = since[0];
  if (!latest) return now - admittedAt >= timings.admitTimeoutMs ? 'no-show' : undefined;
  if (since.some((boot) => boot.userspaceUpAt !== undefined && boot.userspaceUpAt >= admittedAt))
    return 'booted';
  const handedOver = since.find((boot) => boot.handoverAt !== undefined && boot.handoverAt >= admittedAt);
  if (handedOver) {
    const sending = handedOver.files.some((file) => file.result === 'in-progress');
    return !sending && now - handedOver.lastEventAt >= timings.settleMs ? 'booted' : undefined;
  }
  return latest.state === 'failed' ? 'failed' : undefined;
}
