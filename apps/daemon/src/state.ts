/** What the daemon's services share: the manifest in force, counters, nodes and discovery. */
import type { LoadedManifest } from '@bramble/manifest';
import type { Logger } from 'pino';
import { Discovery } from './discovery.js';
import { Metrics } from './metrics.js';
import { NodeTracker } from './nodes.js';
import { BootGate } from './pacing/index.js';
import { BootTimeline, type TimelineOptions } from './timeline/index.js';

export interface DaemonState {
  /** The manifest in force (replaced by reloads). */
  current: LoadedManifest;
  closing: boolean;
  readonly metrics: Metrics;
  readonly nodes: NodeTracker;
  readonly discovery: Discovery;
  /** Per node and boot, every DHCP and TFTP step. */
  readonly timeline: BootTimeline;
  /** Boot-storm admission control (the proxyDHCP responder asks it before answering). */
  readonly pacing: BootGate;
  readonly logger: Logger | undefined;
}

/** Tell discovery which serials and MACs the manifest knows, and refresh the gauges. */
export function applyManifest(state: DaemonState, manifest: LoadedManifest): void {
  state.current = manifest;
  state.nodes.reindex(manifest);
  state.timeline.setNodes(manifest.manifest.nodes);
  state.pacing.configure(manifest.manifest.pacing);
  state.discovery.retarget(manifest.discoveredFile);
  state.discovery.setKnown(
    manifest.manifest.nodes.flatMap((node) => (node.serial ? [node.serial] : [])),
    manifest.manifest.nodes.flatMap((node) => (node.mac ? [node.mac] : [])),
  );
  syncDiscoveryMetrics(state);
}

export function syncDiscoveryMetrics(state: DaemonState): void {
  state.metrics.discovered = state.discovery.list().length;
  state.metrics.discoveredEvicted = state.discovery.stats.evicted;
  state.metrics.discoveryLogSuppressed = state.discovery.stats.logSuppressed;
  state.metrics.discoveryWrites = state.discovery.stats.writes;
}

/** Load discovered.json and index the manifest's nodes. */
export async function createState(
  manifest: LoadedManifest,
  logger: Logger | undefined,
  timelineOptions?: TimelineOptions,
): Promise<DaemonState> {
  const metrics = new Metrics();
  const settings = manifest.manifest.discovery;
  let state: DaemonState | undefined;
  const discovery = new Discovery(
    manifest.discoveredFile,
    logger,
    () => {
      if (state) syncDiscoveryMetrics(state);
    },
    { maxEntries: settings.maxEntries, expireAfterMs: settings.expireAfterSeconds * 1000 },
  );
  await discovery.load();
  const timeline = new BootTimeline(timelineOptions);
  state = {
    current: manifest,
    closing: false,
    metrics,
    nodes: new NodeTracker(metrics, logger),
    discovery,
    timeline,
    pacing: new BootGate(manifest.manifest.pacing, timeline, logger),
    logger,
  };
  state.timeline.start();
  state.pacing.start();
  applyManifest(state, manifest);
  return state;
}
