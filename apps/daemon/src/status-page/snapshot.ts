/** What the status page and `bramble status` show: the fleet table and the unknown Pis knocking. */
import type { DiscoveredPi } from '@bramble/manifest';
import type { NodeStatus } from '../timeline/index.js';

export interface KnockingPi {
  id: string;
  model: string;
  address: string;
  lastSeen: string;
  requests: number;
  /** The command that adds it to the manifest, ready to copy. */
  adopt: string;
}

/** Boot-storm pacing as /fleet shows it. */
export interface FleetPacing {
  enabled: boolean;
  limit: number;
  /** Nodes (hostnames, or MACs of unknown Pis) holding a boot slot. */
  booting: string[];
  waiting: { known: number; unknown: number };
  peakBooting: number;
}

export interface FleetSnapshot {
  nodes: NodeStatus[];
  unknown: KnockingPi[];
  pacing?: FleetPacing;
}

/** A hostname suggestion the manifest's hostname rule accepts: `pi-` and the id's hex digits. */
export function suggestedHostname(id: string): string {
  return `pi-${id.toLowerCase().replace(/[^0-9a-f]/g, '')}`;
}

/** `bramble node adopt 9ffefdef --hostname pi-9ffefdef --image bookworm` */
export function adoptCommand(pi: Pick<DiscoveredPi, 'id'>, imageNames: readonly string[]): string {
  const image = imageNames.length === 1 ? imageNames[0] : 'IMAGE';
  return `bramble node adopt ${pi.id} --hostname ${suggestedHostname(pi.id)} --image ${image}`;
}

export function fleetSnapshot(
  nodes: NodeStatus[],
  discovered: readonly DiscoveredPi[],
  imageNames: readonly string[],
  pacing?: FleetPacing,
): FleetSnapshot {
  return {
    nodes,
    ...(pacing ? { pacing } : {}),
    unknown: discovered.map((pi) => ({
      id: pi.id,
      model: pi.model,
      address: pi.address,
      lastSeen: pi.lastSeen,
      requests: pi.requests,
      adopt: adoptCommand(pi, imageNames),
    })),
  };
}
