/** @packageDocumentation brambled as a library: the daemon wiring, for the CLI's `serve` and tests. */

export { type Daemon, type DaemonOptions, startDaemon } from './daemon.js';
export {
  DEFAULT_DISCOVERY_LIMITS,
  Discovery,
  type DiscoveryLimits,
  type DiscoveryStats,
  maxFileBytes,
  type Sighting,
} from './discovery.js';
export { BrambledError, PrivilegeError } from './errors.js';
export { createLogger } from './logger.js';
export { Metrics, type NodeActivity } from './metrics.js';
export { type NodeLookup, NodeTracker } from './nodes.js';
export * from './pacing/index.js';
export { createReloader, type Reloader, type ReloadResult } from './reload.js';
export { type RunOptions, runDaemon } from './run.js';
export {
  adoptCommand,
  type FleetPacing,
  type FleetSnapshot,
  fleetSnapshot,
  type KnockingPi,
  reportedSerial,
  suggestedHostname,
} from './status-page/index.js';
export {
  type ActivatedSockets,
  activatedSockets,
  canBindPort,
  checkBindPrivilege,
  type ListenFd,
  listenFds,
} from './systemd.js';
export * from './timeline/index.js';
export { VERSION } from './version.js';
