/** The boot timeline: per node and boot, every DHCP and TFTP step, judged into booting / up / failed. */
export {
  type BootRules,
  baseName,
  discoverStartsBoot,
  FILE_NAME_LIMIT,
  failureOf,
  fileResult,
  IN_FLIGHT_LIMIT_MS,
  judgeBoot,
  requestStartsBoot,
  safeFileName,
  stallLimit,
  type TransferEnd,
} from './classify.js';
export { BOOT_DURATION_BUCKETS, BootMetrics } from './metrics.js';
export {
  BootTimeline,
  type DhcpSeen,
  type TimelineNode,
  type TimelineOptions,
  type TransferSeen,
} from './recorder.js';
export type {
  BootFailure,
  BootRecord,
  BootState,
  BootView,
  DhcpStep,
  FailureStage,
  FileResult,
  FileStep,
  NodeStatus,
} from './types.js';
