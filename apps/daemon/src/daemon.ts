/**
 * brambled's wiring: the @bramble/tftp server over <state>/tftp, the optional @bramble/dhcp
 * proxyDHCP responder, discovery, metrics, the HTTP endpoint and manifest reloads.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createProxyDhcp, type ProxyClient, type ProxyDhcp } from '@bramble/dhcp';
import { createServer, fsHandler, type TftpServer, type TransferEvent } from '@bramble/tftp';
import type { Logger } from 'pino';
import { macDir, modelFromFirstFile, parseBootPath } from './boot-path.js';
import { type DiscoveredPi, Discovery } from './discovery.js';
import { type HttpEndpoint, startHttp } from './http.js';
import type { LoadedManifest } from './manifest.js';
import { loadManifest } from './manifest.js';
import { Metrics, type NodeActivity } from './metrics.js';
import { createReloader, type Reloader, type ReloadResult } from './reload.js';
import { fleetRoutes, fleetSnapshot } from './status-page/index.js';
import { type ActivatedSockets, checkBindPrivilege } from './systemd.js';
import { BootTimeline, type TimelineOptions } from './timeline/index.js';

export interface DaemonOptions {
  /** Path of bramble.yaml. */
  manifestPath: string;
  logger?: Logger;
  /** Override the manifest's tftp.listen (e.g. loopback high ports for the demo and tests). */
  tftpListen?: { address: string; port: number };
  /** Override the manifest's http.listen; false disables the endpoint. */
  httpListen?: { address: string; port: number } | false;
  /** Override the manifest's dhcp.mode === 'proxy' decision. */
  proxyDhcp?: boolean;
  /** Port for the proxyDHCP responder (default 67; tests use high ports). */
  dhcpPort?: number;
  /** PXE boot server port (default 4011 when dhcpPort is 67, else off); false disables it. */
  pxePort?: number | false;
  /** Sockets from systemd socket activation (see systemd.ts). */
  sockets?: ActivatedSockets;
  /** Reload when the manifest file changes (default true). */
  watch?: boolean;
  /** Where proxyDHCP replies go (default 255.255.255.255:68; loopback tests use the virtual Pi's port). */
  dhcpReplyTo?: { address: string; port: number };
  /** Boot timeline limits and timings (see timeline/recorder.ts). */
  timeline?: TimelineOptions;
}

export interface Daemon {
  readonly manifest: LoadedManifest;
  readonly metrics: Metrics;
  /** Per node and boot, every DHCP and TFTP step. */
  readonly timeline: BootTimeline;
  tftpAddress(): { address: string; port: number };
  httpAddress(): { address: string; port: number } | undefined;
  /** Re-read the manifest; a bad one is rejected and the old one keeps serving. */
  reload(reason?: string): Promise<ReloadResult>;
  nodes(): NodeActivity[];
  discovered(): DiscoveredPi[];
  /** Stop accepting work, let transfers in flight finish (until the deadline), release everything. */
  close(o?: { deadlineMs?: number }): Promise<void>;
}

const BOOT_GAP_MS = 30_000;

/** Package loggers speak only of errors unless the daemon runs at debug or trace. */
const quietLevel = (l: Logger) => (l.isLevelEnabled('debug') ? l.level : 'error');

interface NodeIndex {
  bySerial: Map<string, NodeActivity>;
  byMacDir: Map<string, NodeActivity>;
}

function indexNodes(
  m: LoadedManifest,
  previous: readonly NodeActivity[],
): { list: NodeActivity[]; index: NodeIndex } {
  const old = new Map(previous.map((n) => [n.hostname, n]));
  const index: NodeIndex = { bySerial: new Map(), byMacDir: new Map() };
  const list = m.manifest.nodes.map((n) => {
    const prev = old.get(n.hostname);
    const a: NodeActivity = {
      hostname: n.hostname,
      ...(n.serial !== undefined ? { serial: n.serial } : {}),
      ...(n.mac !== undefined ? { mac: n.mac } : {}),
      ...(n.model !== undefined ? { model: n.model } : {}),
      ...(n.address !== undefined ? { address: n.address } : {}),
      ...(prev?.lastBoot !== undefined ? { lastBoot: prev.lastBoot } : {}),
      ...(prev?.lastSeen !== undefined ? { lastSeen: prev.lastSeen } : {}),
      ...(prev?.lastFile !== undefined ? { lastFile: prev.lastFile } : {}),
      files: prev?.files ?? 0,
      bytes: prev?.bytes ?? 0,
    };
    if (n.serial) index.bySerial.set(n.serial, a);
    if (n.mac) index.byMacDir.set(macDir(n.mac), a);
    return a;
  });
  return { list, index };
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const logger = o.logger;
  let closing = false;
  let current = await loadManifest(o.manifestPath);
  const metrics = new Metrics();
  let nodeState = indexNodes(current, []);
  const timeline = new BootTimeline(o.timeline);
  timeline.setNodes(current.manifest.nodes);
  timeline.start();
  const discovery = new Discovery(join(current.stateDir, 'discovered.json'), logger, () => {
    metrics.discovered = discovery.list().length;
  });
  await discovery.load();
  const setKnown = () =>
    discovery.setKnown(
      current.manifest.nodes.flatMap((n) => (n.serial ? [n.serial] : [])),
      current.manifest.nodes.flatMap((n) => (n.mac ? [n.mac] : [])),
    );
  setKnown();
  metrics.discovered = discovery.list().length;

  await mkdir(current.tftpRoot, { recursive: true });
  const listen = o.tftpListen ?? current.manifest.tftp.listen;
  if (!o.sockets?.tftp) checkBindPrivilege('TFTP', listen.port);

  const server: TftpServer = createServer({
    handler: fsHandler(current.tftpRoot),
    // The package logs every missing file at warn; the daemon already logs one line per boot step.
    ...(logger ? { logger: logger.child({ component: 'tftp' }, { level: quietLevel(logger) }) } : {}),
    singlePort: current.manifest.tftp.singlePort,
    engine: current.manifest.tftp.engine,
    ...(current.manifest.tftp.blksizeMax !== undefined
      ? { blksizeMax: current.manifest.tftp.blksizeMax }
      : {}),
    ...(current.manifest.tftp.maxTransfers !== undefined
      ? { maxTransfers: current.manifest.tftp.maxTransfers }
      : {}),
    ...(o.sockets?.tftp ? { socket: o.sockets.tftp } : {}),
  });

  const nodeFor = (file: string): { node?: NodeActivity; path: ReturnType<typeof parseBootPath> } => {
    const path = parseBootPath(file);
    const p = path.prefix;
    const node =
      p?.kind === 'serial'
        ? nodeState.index.bySerial.get(p.serial)
        : p?.kind === 'mac'
          ? nodeState.index.byMacDir.get(macDir(p.mac))
          : undefined;
    return node ? { node, path } : { path };
  };

  server.on('request', (e: TransferEvent) => {
    metrics.requests += 1;
    timeline.tftpRequest(e);
    const { node, path } = nodeFor(e.file);
    if (node) {
      const now = Date.now();
      if (node.lastSeen === undefined || now - node.lastSeen > BOOT_GAP_MS) {
        node.lastBoot = now;
        logger?.info(
          { event: 'boot', node: node.hostname, address: e.remoteAddress, file: e.file },
          `${node.hostname}: boot started from ${e.remoteAddress}`,
        );
      }
      node.lastSeen = now;
      node.address ??= e.remoteAddress;
    } else if (path.prefix) {
      discovery.see({
        ...(path.prefix.kind === 'serial' ? { serial: path.prefix.serial } : { mac: path.prefix.mac }),
        model: modelFromFirstFile(path.rest),
        address: e.remoteAddress,
        via: 'tftp',
        file: e.file,
      });
    }
  });
  server.on('complete', (e: TransferEvent) => {
    metrics.transfers.complete += 1;
    timeline.tftpEnd('complete', e);
    metrics.bytes += e.bytes ?? 0;
    metrics.retransmits += e.retransmits ?? 0;
    const { node } = nodeFor(e.file);
    if (node) {
      node.files += 1;
      node.bytes += e.bytes ?? 0;
      node.lastFile = e.file;
    }
    logger?.info(
      {
        event: 'file',
        node: node?.hostname,
        address: e.remoteAddress,
        file: e.file,
        bytes: e.bytes,
        ms: e.durationMs,
        retransmits: e.retransmits,
      },
      `${node?.hostname ?? e.remoteAddress}: sent ${e.file} (${fmtBytes(e.bytes ?? 0)} in ${Math.round(e.durationMs ?? 0)} ms)`,
    );
  });
  server.on('aborted', (e: TransferEvent) => {
    metrics.transfers.aborted += 1;
    timeline.tftpEnd('aborted', e);
    metrics.bytes += e.bytes ?? 0;
    const { node } = nodeFor(e.file);
    logger?.debug(
      { event: 'probe', node: node?.hostname, address: e.remoteAddress, file: e.file, options: e.options },
      `${node?.hostname ?? e.remoteAddress}: ${e.file} size probe / early terminate`,
    );
  });
  server.on('failed', (e: TransferEvent) => {
    metrics.transfers.failed += 1;
    timeline.tftpEnd('failed', e);
    metrics.retransmits += e.retransmits ?? 0;
    const { node } = nodeFor(e.file);
    const msg = e.error instanceof Error ? e.error.message : String(e.error ?? 'failed');
    logger?.info(
      { event: 'file-failed', node: node?.hostname, address: e.remoteAddress, file: e.file, error: msg },
      `${node?.hostname ?? e.remoteAddress}: ${e.file}: ${msg}`,
    );
  });

  const tftpAddr = await server.listen(o.sockets?.tftp ? {} : listen);
  logger?.info(
    {
      event: 'listening',
      service: 'tftp',
      ...tftpAddr,
      root: current.tftpRoot,
      singlePort: current.manifest.tftp.singlePort,
      engine: server.engine,
    },
    `TFTP serving ${current.tftpRoot} on ${tftpAddr.address}:${tftpAddr.port}`,
  );

  // proxyDHCP (optional)
  let proxy: ProxyDhcp | undefined;
  const wantProxy = o.proxyDhcp ?? current.manifest.dhcp.mode === 'proxy';
  if (wantProxy) {
    const port = o.dhcpPort ?? current.manifest.dhcp.port ?? 67;
    const pxePort = o.pxePort ?? (port === 67 ? 4011 : false);
    if (!o.sockets?.dhcp) checkBindPrivilege('proxyDHCP', port);
    if (!o.sockets?.pxe && pxePort !== false) checkBindPrivilege('proxyDHCP (PXE)', pxePort);
    proxy = createProxyDhcp({
      serverAddress: current.manifest.server.address,
      port,
      pxePort,
      ...(o.dhcpReplyTo ? { broadcastAddress: o.dhcpReplyTo.address, clientPort: o.dhcpReplyTo.port } : {}),
      ...(current.manifest.dhcp.listen !== undefined ? { listenAddress: current.manifest.dhcp.listen } : {}),
      ...(logger ? { logger: logger.child({ component: 'dhcp' }, { level: quietLevel(logger) }) } : {}),
      ...(o.sockets?.dhcp ? { socket: o.sockets.dhcp } : {}),
      ...(o.sockets?.pxe ? { pxeSocket: o.sockets.pxe } : {}),
    });
    proxy.on('client', (e: ProxyClient) => {
      metrics.dhcpClients += 1;
      timeline.dhcpClient(e);
      const serial = e.serial;
      const known = discovery.isKnown({ serial, mac: e.mac });
      // Only Raspberry Pis are recorded; other PXE clients (model 'pxe') are not ours to adopt.
      if (!known && e.model !== 'pxe')
        discovery.see({ serial, mac: e.mac, model: e.model, address: e.address, via: 'dhcp' });
      logger?.info(
        { event: 'dhcp', model: e.model, serial, mac: e.mac, address: e.address, known },
        `${e.model} ${serial ?? e.mac} asked for a network boot${known ? '' : ' (unknown)'}`,
      );
    });
    proxy.on('offer', (e: { mac: string; via: 'dhcp' | 'pxe' }) => {
      metrics.dhcpOffers += 1;
      timeline.dhcpOffer(e);
    });
    proxy.on('bad-packet', () => {
      metrics.dhcpBadPackets += 1;
    });
    await proxy.listen();
    logger?.info(
      { event: 'listening', service: 'proxydhcp', port },
      `proxyDHCP answering Pis on port ${port}`,
    );
  }

  // HTTP
  let http: HttpEndpoint | undefined;
  const fleet = fleetRoutes(
    {
      timeline,
      snapshot: () => fleetSnapshot(timeline.fleet(), discovery.list(), Object.keys(current.manifest.images)),
    },
    logger,
  );
  const httpListen = o.httpListen ?? current.manifest.http.listen;
  if (httpListen !== false) {
    http = await startHttp(
      httpListen,
      {
        health: () => ({ ok: !closing, nodes: current.manifest.nodes.length, manifest: current.path }),
        metrics: () => metrics.render(nodeState.list) + timeline.metrics.render(),
        nodes: () => nodeState.list,
        discovered: () => discovery.list(),
        routes: fleet.handle,
      },
      logger,
    );
    const a = http.address();
    logger?.info(
      { event: 'listening', service: 'http', address: a.address, port: a.port },
      `HTTP on ${a.address}:${a.port}`,
    );
  }

  // Reloads
  const reloader: Reloader = createReloader({
    path: current.path,
    initialHash: current.hash,
    watch: o.watch ?? true,
    logger,
    apply: async (m) => {
      await mkdir(m.tftpRoot, { recursive: true });
      const handler = fsHandler(m.tftpRoot);
      const l = m.manifest.tftp.listen;
      if (!o.tftpListen && !o.sockets?.tftp && (l.port !== listen.port || l.address !== listen.address))
        logger?.warn({ event: 'restart-needed' }, 'tftp.listen changed: restart brambled to apply it');
      server.setHandler(handler); // atomic: transfers in flight keep their source
      current = m;
      discovery.retarget(join(m.stateDir, 'discovered.json'));
      nodeState = indexNodes(m, nodeState.list);
      timeline.setNodes(m.manifest.nodes);
      setKnown();
      metrics.discovered = discovery.list().length;
    },
    onResult: (r) => {
      if (r.ok) metrics.reloads.ok += 1;
      else metrics.reloads.rejected += 1;
    },
  });

  let closed: Promise<void> | undefined;
  return {
    get manifest() {
      return current;
    },
    metrics,
    timeline,
    tftpAddress: () => tftpAddr,
    httpAddress: () => {
      if (!http) return undefined;
      const a = http.address();
      return { address: a.address, port: a.port };
    },
    reload: (reason = 'requested') => reloader.reload(reason),
    nodes: () => nodeState.list,
    discovered: () => discovery.list(),
    close: (c = {}) => {
      closed ??= (async () => {
        closing = true;
        reloader.close();
        timeline.stop();
        fleet.close();
        logger?.info({ event: 'draining' }, 'draining transfers in flight');
        await Promise.allSettled([
          server.close({ deadlineMs: c.deadlineMs ?? 10_000 }),
          proxy?.close(),
          http?.close(),
        ]);
        await discovery.flush();
        logger?.info({ event: 'stopped' }, 'brambled stopped');
      })();
      return closed;
    },
  };
}
