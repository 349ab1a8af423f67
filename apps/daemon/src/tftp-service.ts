/**
 * The daemon's TFTP side: the @bramble/tftp server over <state>/tftp, and what its events mean for
 * the cluster (a node booting, a file served, an unknown Pi asking).
 */
import { mkdir } from 'node:fs/promises';
import type { LoadedManifest } from '@bramble/manifest';
import { definedOnly, familyFromFirstFile } from '@bramble/pi';
import { createServer, fsHandler, type TftpServer, type TransferEvent } from '@bramble/tftp';
import type { Logger } from 'pino';
import type { DaemonState } from './state.js';
import { type ActivatedSockets, checkBindPrivilege } from './systemd.js';

export type Listen = { address: string; port: number };

/** Package loggers speak only of errors unless the daemon runs at debug or trace. */
export const quietLevel = (logger: Logger) => (logger.isLevelEnabled('debug') ? logger.level : 'error');

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function createTftpServer(state: DaemonState, socket: ActivatedSockets['tftp']): TftpServer {
  const { logger } = state;
  const tftp = state.current.manifest.tftp;
  return createServer({
    handler: fsHandler(state.current.tftpRoot),
    singlePort: tftp.singlePort,
    engine: tftp.engine,
    ...definedOnly({
      // The package logs every missing file at warn; the daemon already logs one line per boot step.
      logger: logger?.child({ component: 'tftp' }, { level: quietLevel(logger) }),
      blksizeMax: tftp.blksizeMax,
      maxTransfers: tftp.maxTransfers,
      socket,
    }),
    // A manifest node's requests keep reserved transfer slots, so a flood from unknown addresses
    // cannot lock the cluster out. A node with a configured address is known only from that address.
    classify: (request) => (isKnownRequest(state, request.file, request.remoteAddress) ? 'known' : 'unknown'),
  });
}

/** A request for a manifest node's directory (from its address, when one is configured) or from a node's address. */
function isKnownRequest(state: DaemonState, file: string, from: string): boolean {
  const { node } = state.nodes.lookup(file);
  if (node) return node.address === undefined || node.address === from;
  return state.nodes.list().some((candidate) => candidate.address === from);
}

function onRequest(state: DaemonState, event: TransferEvent): void {
  state.metrics.requests += 1;
  const { node, path } = state.nodes.lookup(event.file);
  if (node) {
    const boot = state.timeline.latestBoot(node.hostname);
    const bootStarted = boot?.files.length === 1;
    state.nodes.recordRequest(node, event.remoteAddress, event.file, bootStarted);
    return;
  }
  if (!path.prefix) return;
  state.discovery.see({
    ...(path.prefix.kind === 'serial' ? { serial: path.prefix.serial } : { mac: path.prefix.mac }),
    model: familyFromFirstFile(path.rest),
    address: event.remoteAddress,
    via: 'tftp',
    file: event.file,
  });
}

function onComplete(state: DaemonState, event: TransferEvent): void {
  const { metrics, logger } = state;
  metrics.transfers.complete += 1;
  metrics.bytes += event.bytes ?? 0;
  metrics.retransmits += event.retransmits ?? 0;
  const { node } = state.nodes.lookup(event.file);
  if (node) {
    node.files += 1;
    node.bytes += event.bytes ?? 0;
    node.lastFile = event.file;
  }
  logger?.info(
    {
      event: 'file',
      node: node?.hostname,
      address: event.remoteAddress,
      file: event.file,
      bytes: event.bytes,
      ms: event.durationMs,
      retransmits: event.retransmits,
    },
    `${node?.hostname ?? event.remoteAddress}: sent ${event.file} (${formatBytes(event.bytes ?? 0)} in ${Math.round(event.durationMs ?? 0)} ms)`,
  );
}

function onAborted(state: DaemonState, event: TransferEvent): void {
  state.metrics.transfers.aborted += 1;
  state.metrics.bytes += event.bytes ?? 0;
  const { node } = state.nodes.lookup(event.file);
  state.logger?.debug(
    {
      event: 'probe',
      node: node?.hostname,
      address: event.remoteAddress,
      file: event.file,
      options: event.options,
    },
    `${node?.hostname ?? event.remoteAddress}: ${event.file} size probe / early terminate`,
  );
}

function onFailed(state: DaemonState, event: TransferEvent): void {
  state.metrics.transfers.failed += 1;
  state.metrics.retransmits += event.retransmits ?? 0;
  const { node } = state.nodes.lookup(event.file);
  const message = event.error instanceof Error ? event.error.message : String(event.error ?? 'failed');
  const fields = {
    event: 'file-failed',
    node: node?.hostname,
    address: event.remoteAddress,
    file: event.file,
    error: message,
  };
  const line = `${node?.hostname ?? event.remoteAddress}: ${event.file}: ${message}`;
  // A node's failures are boot steps worth a line; anyone else's are LAN noise an attacker controls.
  if (node) state.logger?.info(fields, line);
  else state.logger?.debug(fields, line);
}

/** Create, wire and bind the TFTP server; `listen` is where it binds unless a socket was handed over. */
export async function startTftp(
  state: DaemonState,
  listen: Listen,
  socket: ActivatedSockets['tftp'],
): Promise<{ server: TftpServer; address: Listen }> {
  await mkdir(state.current.tftpRoot, { recursive: true });
  if (!socket) checkBindPrivilege('TFTP', listen.port);
  const server = createTftpServer(state, socket);
  server.on('request', (event: TransferEvent) => {
    state.timeline.tftpRequest(event);
    onRequest(state, event);
  });
  server.on('complete', (event: TransferEvent) => {
    state.timeline.tftpEnd('complete', event);
    onComplete(state, event);
  });
  server.on('aborted', (event: TransferEvent) => {
    state.timeline.tftpEnd('aborted', event);
    onAborted(state, event);
  });
  server.on('failed', (event: TransferEvent) => {
    state.timeline.tftpEnd('failed', event);
    onFailed(state, event);
  });
  const bound = await server.listen(socket ? {} : listen);
  // A '0.0.0.0' listen is served on every local IPv4 address, including those that appear later (the
  // server rescans them): report it as asked, with the addresses bound now beside it.
  const address = socket ? bound : { address: listen.address, port: bound.port };
  state.logger?.info(
    {
      event: 'listening',
      service: 'tftp',
      ...address,
      addresses: server.addresses().map((each) => each.address),
      root: state.current.tftpRoot,
      singlePort: state.current.manifest.tftp.singlePort,
      engine: server.engine,
    },
    `TFTP serving ${state.current.tftpRoot} on ${address.address}:${address.port}`,
  );
  return { server, address };
}

/** Serve a reloaded manifest's tree: the handler swap is atomic, transfers in flight keep their source. */
export async function retargetTftp(
  state: DaemonState,
  server: TftpServer,
  next: LoadedManifest,
  pinned: { listen: Listen; overridden: boolean },
): Promise<void> {
  await mkdir(next.tftpRoot, { recursive: true });
  const wanted = next.manifest.tftp.listen;
  if (!pinned.overridden && (wanted.port !== pinned.listen.port || wanted.address !== pinned.listen.address))
    state.logger?.warn({ event: 'restart-needed' }, 'tftp.listen changed: restart brambled to apply it');
  server.setHandler(fsHandler(next.tftpRoot));
}
