/** Boot-storm pacing: admission control for nodes that power on together (see gate.ts). */
export {
  type AdmissionAnswer,
  type AdmissionClass,
  type AdmissionLimits,
  AdmissionQueue,
  type Admitted,
  RECENT_ADMISSIONS,
  type ReleaseReason,
  type Waiter,
} from './admission.js';
export { BootGate, type GateSettings, type PacingSnapshot } from './gate.js';
export { renderPacingMetrics } from './metrics.js';
export { type ReleaseTimings, releaseReason } from './release.js';
