/**
 * brambled's wiring: the @bramble/tftp server over <state>/tftp, the optional @bramble/dhcp
 * proxyDHCP responder, discovery, metrics, the HTTP endpoint and manifest reloads. Each service
 * lives in its own module; this one starts them in order and stops them together.
 */
import type { ProxyDhcp } from '@bramble/dhcp';
import type { DiscoveredPi } from '@bramble/manifest';
import { type LoadedManifest, loadManifest } from '@bramble/manifest';
import type { TftpServer } from '@bramble/tftp';
import type { Logger } from 'pino';
import { type HttpEndpoint, startHttp } from './http.js';
import type { Metrics, NodeActivity } from './metrics.js';
import type { PacingSnapshot } from './pacing/index.js';
import { renderPacingMetrics } from './pacing/index.js';
import { startProxy } from './proxy-service.js';
import { createReloader, type Reloader, type ReloadResult } from './reload.js';
import { applyManifest, createState, type DaemonState, syncDiscoveryMetrics } from './state.js';
import { type FleetRoutes, fleetRoutes, fleetSnapshot } from './status-page/index.js';
import type { ActivatedSockets } from './systemd.js';
import { type Listen, retargetTftp, startTftp } from './tftp-service.js';
import type { BootTimeline, TimelineOptions } from './timeline/index.js';

export interface DaemonOptions {
  /** Path of bramble.yaml. */
  manifestPath: string;
  logger?: Logger;
  /** Override the manifest's tftp.listen (e.g. loopback high ports for the demo and tests). */
  tftpListen?: Listen;
  /** Override the manifest's http.listen; false disables the endpoint. */
  httpListen?: Listen | false;
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
  dhcpReplyTo?: Listen;
  /** Boot timeline limits and timings (see timeline/recorder.ts). */
  timeline?: TimelineOptions;
}

export interface Daemon {
  readonly manifest: LoadedManifest;
  readonly metrics: Metrics;
  /** Per node and boot, every DHCP and TFTP step. */
  readonly timeline: BootTimeline;
  /** Boot-storm pacing: slots in use, the lines, counters and recent admissions. */
  pacing(): PacingSnapshot;
  tftpAddress(): Listen;
  httpAddress(): Listen | undefined;
  /** Re-read the manifest; a bad one is rejected and the old one keeps serving. */
  reload(reason?: string): Promise<ReloadResult>;
  nodes(): NodeActivity[];
  discovered(): DiscoveredPi[];
  /** Stop accepting work, let transfers in flight finish (until the deadline), release everything. */
  close(options?: { deadlineMs?: number }): Promise<void>;
}

interface Services {
  tftp: TftpServer;
  tftpAddress: Listen;
  proxy: ProxyDhcp | undefined;
  http: HttpEndpoint | undefined;
  fleet: FleetRoutes;
  reloader: Reloader;
}

async function startProxyIfWanted(
  state: DaemonState,
  options: DaemonOptions,
): Promise<ProxyDhcp | undefined> {
  const wanted = options.proxyDhcp ?? state.current.manifest.dhcp.mode === 'proxy';
  if (!wanted) return undefined;
  return startProxy(state, {
    port: options.dhcpPort,
    pxePort: options.pxePort,
    sockets: options.sockets,
    replyTo: options.dhcpReplyTo,
  });
}

/** The status page's routes: the fleet table, per-node boots, live events and the userspace-up report. */
function createFleetRoutes(state: DaemonState): FleetRoutes {
  return fleetRoutes(
    {
      timeline: state.timeline,
      snapshot: () =>
        fleetSnapshot(
          state.timeline.fleet(),
          state.discovery.list(),
          Object.keys(state.current.manifest.images),
          pacingSummary(state.pacing.snapshot()),
        ),
    },
    state.logger,
  );
}

/** The pacing fields of /health and /fleet: the gauges, without the admission log. */
function pacingSummary(snapshot: PacingSnapshot) {
  return {
    enabled: snapshot.enabled,
    limit: snapshot.maxConcurrentBoots,
    booting: snapshot.booting.map((slot) => slot.key),
    waiting: snapshot.waiting,
    peakBooting: snapshot.peakBooting,
  };
}

async function startHttpIfWanted(
  state: DaemonState,
  options: DaemonOptions,
  fleet: FleetRoutes,
): Promise<HttpEndpoint | undefined> {
  const listen = options.httpListen ?? state.current.manifest.http.listen;
  if (listen === false) return undefined;
  const http = await startHttp(
    listen,
    {
      health: () => ({
        ok: !state.closing,
        nodes: state.current.manifest.nodes.length,
        manifest: state.current.path,
        pacing: pacingSummary(state.pacing.snapshot()),
      }),
      metrics: () => {
        syncDiscoveryMetrics(state);
        return (
          state.metrics.render(state.nodes.list(), state.timeline.fleet()) +
          state.timeline.metrics.render() +
          renderPacingMetrics(state.pacing.snapshot())
        );
      },
      nodes: () => state.nodes.list(),
      discovered: () => state.discovery.list(),
      routes: fleet.handle,
    },
    state.logger,
  );
  const bound = http.address();
  state.logger?.info(
    { event: 'listening', service: 'http', address: bound.address, port: bound.port },
    `HTTP on ${bound.address}:${bound.port}`,
  );
  return http;
}

function startReloader(
  state: DaemonState,
  options: DaemonOptions,
  tftp: TftpServer,
  tftpListen: Listen,
): Reloader {
  const pinned = { listen: tftpListen, overridden: Boolean(options.tftpListen || options.sockets?.tftp) };
  return createReloader({
    path: state.current.path,
    initialHash: state.current.hash,
    watch: options.watch ?? true,
    logger: state.logger,
    apply: async (next) => {
      await retargetTftp(state, tftp, next, pinned);
      applyManifest(state, next);
    },
    onResult: (result) => {
      if (result.ok) state.metrics.reloads.ok += 1;
      else state.metrics.reloads.rejected += 1;
    },
  });
}

async function stopServices(state: DaemonState, services: Services, deadlineMs: number): Promise<void> {
  state.closing = true;
  services.reloader.close();
  state.timeline.stop();
  state.pacing.stop();
  services.fleet.close();
  state.logger?.info({ event: 'draining' }, 'draining transfers in flight');
  await Promise.allSettled([
    services.tftp.close({ deadlineMs }),
    services.proxy?.close(),
    services.http?.close(),
  ]);
  await state.discovery.flush();
  syncDiscoveryMetrics(state);
  state.logger?.info({ event: 'stopped' }, 'brambled stopped');
}

function daemonHandle(state: DaemonState, services: Services): Daemon {
  let closed: Promise<void> | undefined;
  return {
    get manifest() {
      return state.current;
    },
    metrics: state.metrics,
    timeline: state.timeline,
    pacing: () => state.pacing.snapshot(),
    tftpAddress: () => services.tftpAddress,
    httpAddress: () => {
      const bound = services.http?.address();
      return bound ? { address: bound.address, port: bound.port } : undefined;
    },
    reload: (reason = 'requested') => services.reloader.reload(reason),
    nodes: () => state.nodes.list(),
    discovered: () => state.discovery.list(),
    close: (closeOptions = {}) => {
      closed ??= stopServices(state, services, closeOptions.deadlineMs ?? 10_000);
      return closed;
    },
  };
}

/** Load the manifest, start TFTP, proxyDHCP (if wanted), HTTP and reloads; returns the running daemon. */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const manifest = await loadManifest(options.manifestPath);
  const state = await createState(manifest, options.logger, options.timeline);
  const tftpListen = options.tftpListen ?? manifest.manifest.tftp.listen;
  const tftp = await startTftp(state, tftpListen, options.sockets?.tftp);
  const proxy = await startProxyIfWanted(state, options);
  const fleet = createFleetRoutes(state);
  const http = await startHttpIfWanted(state, options, fleet);
  const reloader = startReloader(state, options, tftp.server, tftpListen);
  return daemonHandle(state, { tftp: tftp.server, tftpAddress: tftp.address, proxy, http, fleet, reloader });
}
