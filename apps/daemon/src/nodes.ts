/**
 * What the daemon knows about the manifest's nodes at run time (/nodes, per-node metrics): which
 * node a TFTP path belongs to, what it fetched, and from where.
 *
 * A node's identity (serial, MAC, configured address) comes only from the manifest. A request
 * for its files from another address is recorded as an address conflict (log line, counter,
 * `addressConflict` in /nodes), never written over the node's address: a TFTP request's source
 * is whatever a datagram claims.
 */

import type { LoadedManifest } from '@bramble/manifest';
import { macDirName, parseTftpPath, type TftpPath } from '@bramble/pi';
import type { Logger } from 'pino';
import type { Metrics, NodeActivity } from './metrics.js';

interface NodeIndex {
  bySerial: Map<string, NodeActivity>;
  byMacDir: Map<string, NodeActivity>;
}

export interface NodeLookup {
  node?: NodeActivity;
  path: TftpPath;
}

export class NodeTracker {
  private activity: NodeActivity[] = [];
  private index: NodeIndex = { bySerial: new Map(), byMacDir: new Map() };

  constructor(
    private readonly metrics: Metrics,
    private readonly logger?: Logger,
  ) {}

  /** Rebuild from a (re)loaded manifest, keeping the activity of nodes that are still there. */
  reindex(loaded: LoadedManifest): void {
    const previous = new Map(this.activity.map((node) => [node.hostname, node]));
    const index: NodeIndex = { bySerial: new Map(), byMacDir: new Map() };
    this.activity = loaded.manifest.nodes.map((spec) => {
      const kept = previous.get(spec.hostname);
      const node: NodeActivity = {
        ...kept,
        hostname: spec.hostname,
        files: kept?.files ?? 0,
        bytes: kept?.bytes ?? 0,
      };
      // Identity from the manifest only (a removed field must not survive from the old entry).
      for (const key of ['serial', 'mac', 'model', 'address'] as const) {
        const value = spec[key];
        if (value === undefined) delete node[key];
        else node[key] = value;
      }
      if (spec.serial) index.bySerial.set(spec.serial, node);
      if (spec.mac) index.byMacDir.set(macDirName(spec.mac), node);
      return node;
    });
    this.index = index;
  }

  list(): NodeActivity[] {
    return this.activity;
  }

  /** The node a TFTP path belongs to (by its serial or MAC directory), if any. */
  lookup(file: string): NodeLookup {
    const path = parseTftpPath(file);
    const prefix = path.prefix;
    const node =
      prefix?.kind === 'serial'
        ? this.index.bySerial.get(prefix.serial)
        : prefix?.kind === 'mac'
          ? this.index.byMacDir.get(macDirName(prefix.mac))
          : undefined;
    return node ? { node, path } : { path };
  }

  /**
   * A request for one of the node's files arrived from `from`; `bootStarted` when the boot timeline
   * (the one home of when a boot starts) counts it as the first file of a new boot.
   */
  recordRequest(
    node: NodeActivity,
    from: string,
    file: string,
    bootStarted: boolean,
    now = Date.now(),
  ): void {
    if (bootStarted) {
      this.logger?.info(
        { event: 'boot', node: node.hostname, address: from, file },
        `${node.hostname}: boot started from ${from}`,
      );
    }
    node.lastSeen = now;
    // Without a configured address the first source seen becomes the reference.
    node.firstSeenFrom ??= from;
    const expected = node.address ?? node.firstSeenFrom;
    if (from !== expected) this.recordConflict(node, from, expected, now);
    node.lastSeenFrom = from;
  }

  private recordConflict(node: NodeActivity, from: string, expected: string, now: number): void {
    const previous = node.addressConflict;
    const isNewSource = previous?.from !== from;
    node.addressConflict = { from, expected, at: now, count: (previous?.count ?? 0) + 1 };
    this.metrics.addressConflicts += 1;
    // One line per new conflicting source; repeats are counted, not logged.
    if (isNewSource)
      this.logger?.warn(
        { event: 'address-conflict', node: node.hostname, from, expected },
        `${node.hostname}: its files were requested from ${from}, but the node is at ${expected}; the node's address is unchanged`,
      );
  }
}
