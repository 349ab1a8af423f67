/** Counters the daemon exposes at /metrics (Prometheus text format 0.0.4) and /nodes. */

export interface NodeActivity {
  hostname: string;
  serial?: string;
  mac?: string;
  model?: string;
  /** The node's address as configured in the manifest (never learnt from requests). */
  address?: string;
  /** Source address of the first and of the latest request for the node's files. */
  firstSeenFrom?: string;
  lastSeenFrom?: string;
  /** Latest request from an address other than the configured (or first seen) one. */
  addressConflict?: { from: string; expected: string; at: number; count: number };
  lastSeen?: number;
  lastFile?: string;
  files: number;
  bytes: number;
}

export class Metrics {
  transfers = { complete: 0, aborted: 0, failed: 0 };
  requests = 0;
  bytes = 0;
  retransmits = 0;
  dhcpOffers = 0;
  dhcpClients = 0;
  dhcpBadPackets = 0;
  dhcpRefused = 0;
  reloads = { ok: 0, rejected: 0 };
  discovered = 0;
  discoveredEvicted = 0;
  discoveryLogSuppressed = 0;
  discoveryWrites = 0;
  addressConflicts = 0;
  readonly startedAt = Date.now();

  /**
   * Prometheus exposition text; `nodes` adds the per-node byte counters, `boots` (the boot
   * timeline's fleet rows) the per-node last boot gauge.
   */
  render(
    nodes: readonly NodeActivity[],
    boots: readonly { node: string; lastBootAt?: number }[] = [],
  ): string {
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    metric('bramble_tftp_requests_total', 'counter', 'TFTP read requests received.', [['', this.requests]]);
    metric(
      'bramble_tftp_transfers_total',
      'counter',
      'TFTP transfers by result (aborted = client ended it, e.g. a tsize probe).',
      Object.entries(this.transfers).map(([k, v]) => [`{result="${k}"}`, v]),
    );
    metric('bramble_tftp_aborts_total', 'counter', 'TFTP transfers the client aborted.', [
      ['', this.transfers.aborted],
    ]);
    metric('bramble_tftp_errors_total', 'counter', 'TFTP transfers that failed.', [
      ['', this.transfers.failed],
    ]);
    metric('bramble_tftp_bytes_total', 'counter', 'Bytes sent over TFTP.', [['', this.bytes]]);
    metric('bramble_tftp_retransmits_total', 'counter', 'TFTP DATA retransmissions.', [
      ['', this.retransmits],
    ]);
    metric('bramble_dhcp_offers_total', 'counter', 'proxyDHCP offers sent.', [['', this.dhcpOffers]]);
    metric('bramble_dhcp_clients_total', 'counter', 'Raspberry Pi DHCP requests seen.', [
      ['', this.dhcpClients],
    ]);
    metric('bramble_dhcp_bad_packets_total', 'counter', 'Malformed DHCP packets dropped.', [
      ['', this.dhcpBadPackets],
    ]);
    metric(
      'bramble_dhcp_refused_total',
      'counter',
      'proxyDHCP replies not sent: the request named a relay (giaddr) that is not allowed.',
      [['', this.dhcpRefused]],
    );
    metric(
      'bramble_manifest_reloads_total',
      'counter',
      'Manifest reloads by result.',
      Object.entries(this.reloads).map(([k, v]) => [`{result="${k}"}`, v]),
    );
    metric('bramble_discovered_pis', 'gauge', 'Unknown Pis that asked to boot.', [['', this.discovered]]);
    metric(
      'bramble_discovered_evicted_total',
      'counter',
      'Unknown Pis dropped from the full discovery table (least recently seen first).',
      [['', this.discoveredEvicted]],
    );
    metric(
      'bramble_discovered_log_suppressed_total',
      'counter',
      'Unknown-Pi log lines held back by the rate limit.',
      [['', this.discoveryLogSuppressed]],
    );
    metric('bramble_discovered_writes_total', 'counter', 'Writes of discovered.json.', [
      ['', this.discoveryWrites],
    ]);
    metric(
      'bramble_node_address_conflicts_total',
      'counter',
      "Requests for a node's files from an address other than the node's.",
      [['', this.addressConflicts]],
    );
    metric(
      'bramble_node_last_boot_timestamp_seconds',
      'gauge',
      'Unix time the latest boot of each node started (from the boot timeline).',
      boots.flatMap((row): [string, number][] =>
        row.lastBootAt === undefined ? [] : [[`{node="${row.node}"}`, Math.floor(row.lastBootAt / 1000)]],
      ),
    );
    metric(
      'bramble_node_bytes_total',
      'counter',
      'Bytes served to each node.',
      nodes.map((n) => [`{node="${n.hostname}"}`, n.bytes]),
    );
    metric('bramble_uptime_seconds', 'gauge', 'Seconds since the daemon started.', [
      ['', Math.floor((Date.now() - this.startedAt) / 1000)],
    ]);
    return `${lines.join('\n')}\n`;
  }
}
