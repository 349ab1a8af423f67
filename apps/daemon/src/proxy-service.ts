/** The daemon's optional proxyDHCP responder and what its events mean (an unknown Pi asking). */
import { createProxyDhcp, type ProxyClient, type ProxyDhcp } from '@bramble/dhcp';
import { definedOnly } from '@bramble/pi';
import type { DaemonState } from './state.js';
import { type ActivatedSockets, checkBindPrivilege } from './systemd.js';
import { quietLevel } from './tftp-service.js';

export interface ProxySettings {
  /** DHCP server port (default: the manifest's dhcp.port, else 67). */
  port?: number | undefined;
  /** PXE boot server port (default 4011 when port is 67, else off); false disables it. */
  pxePort?: number | false | undefined;
  sockets?: ActivatedSockets | undefined;
  /** Where replies go (default 255.255.255.255:68; loopback tests use the virtual Pi's port). */
  replyTo?: { address: string; port: number } | undefined;
}

function onClient(state: DaemonState, client: ProxyClient): void {
  state.metrics.dhcpClients += 1;
  state.timeline.dhcpClient(client);
  const { serial, mac } = client;
  const known = state.discovery.isKnown({ serial, mac });
  // Only Raspberry Pis are recorded; other PXE clients (model 'pxe') are not ours to adopt.
  if (!known && client.model !== 'pxe')
    state.discovery.see({ serial, mac, model: client.model, address: client.address, via: 'dhcp' });
  const fields = { event: 'dhcp', model: client.model, serial, mac, address: client.address, known };
  const line = `${client.model} ${serial ?? mac} asked for a network boot${known ? '' : ' (unknown)'}`;
  // Unknown clients are reported by discovery (rate-limited); one line per packet would let the LAN flood the log.
  if (known) state.logger?.info(fields, line);
  else state.logger?.debug(fields, line);
}

function createResponder(
  state: DaemonState,
  port: number,
  pxePort: number | false,
  sockets?: ActivatedSockets,
  replyTo?: { address: string; port: number },
) {
  const { logger } = state;
  const dhcp = state.current.manifest.dhcp;
  return createProxyDhcp({
    serverAddress: state.current.manifest.server.address,
    port,
    pxePort,
    ...(replyTo ? { broadcastAddress: replyTo.address, clientPort: replyTo.port } : {}),
    ...definedOnly({
      listenAddress: dhcp.listen,
      allowedRelays: dhcp.allowedRelays,
      logger: logger?.child({ component: 'dhcp' }, { level: quietLevel(logger) }),
      socket: sockets?.dhcp,
      pxeSocket: sockets?.pxe,
    }),
    // Boot-storm pacing: a DISCOVER without a boot slot waits in line (see pacing/gate.ts).
    decide: (client) => state.pacing.decide(client),
  });
}

/** Start the responder (privileged ports are checked first unless sockets were handed over). */
export async function startProxy(state: DaemonState, settings: ProxySettings): Promise<ProxyDhcp> {
  const port = settings.port ?? state.current.manifest.dhcp.port ?? 67;
  const pxePort = settings.pxePort ?? (port === 67 ? 4011 : false);
  const sockets = settings.sockets;
  if (!sockets?.dhcp) checkBindPrivilege('proxyDHCP', port);
  if (!sockets?.pxe && pxePort !== false) checkBindPrivilege('proxyDHCP (PXE)', pxePort);
  const proxy = createResponder(state, port, pxePort, sockets, settings.replyTo);
  proxy.on('client', (client: ProxyClient) => onClient(state, client));
  proxy.on('offer', (offer: { mac: string; via: 'dhcp' | 'pxe' }) => {
    state.metrics.dhcpOffers += 1;
    state.timeline.dhcpOffer(offer);
  });
  proxy.on('bad-packet', () => {
    state.metrics.dhcpBadPackets += 1;
  });
  proxy.on('refused', () => {
    state.metrics.dhcpRefused += 1;
  });
  await proxy.listen();
  state.logger?.info(
    { event: 'listening', service: 'proxydhcp', port },
    `proxyDHCP answering Pis on port ${port}`,
  );
  return proxy;
}
