/**
 * proxyDHCP responder (PXE specification 2.1 §2.2.3 "proxyDHCP"): runs next to the network's normal DHCP
 * server, never hands out addresses (yiaddr 0), and adds the boot options network-boot clients need.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { type Logger, silentLogger } from '@bramble/logger';
import { Ipv4Schema, option43Text, PI_BOOT_MENU_TEXT_PADDED } from '@bramble/pi';
import { z } from 'zod';
import { DhcpError } from './errors.js';
import { ipv4ToBuffer } from './ipv4.js';
import { DhcpMessageType, OptionCode } from './options/index.js';
import { type DhcpMessage, decodeMessage, emptyMessage, encodeMessage, macOf } from './packet.js';
import { decodePxeVendorOptions, encodePxeVendorOptions } from './pxe.js';
import {
  detectRaspberryPi,
  PI3_FAMILY_OUIS,
  type RaspberryPiModel,
  raspberryPiBootOptions,
} from './raspberry-pi.js';
import { parseSubnet, type ReplyPolicy, replyTarget, subnetsOf } from './reply-policy.js';

/** A network-boot client the responder saw (one per DISCOVER/REQUEST it considered). */
export interface ProxyClient {
  /** Pi model, 'pxe' for a PXE client that is not recognisably a Raspberry Pi. */
  model: RaspberryPiModel | 'pxe';
  serial?: string;
  boardRevision?: number;
  mac: string;
  /** Source address and port of the request. */
  address: string;
  port: number;
  xid: number;
  /** Option 53 value. */
  messageType: number;
  vendorClass?: string;
  arch?: number;
  /** 'dhcp' = the DHCP server port (67), 'pxe' = the PXE boot server port (4011). */
  via: 'dhcp' | 'pxe';
  /** The decoded request, for custom decisions. */
  request: DhcpMessage;
}

/**
 * What to do for one client: 'boot' sends the Raspberry Pi boot options, 'ignore' stays silent, an object
 * sends exactly those options (53 is added first, 97 echoed unless given) with optional header fields.
 */
export type ProxyDecision =
  | 'boot'
  | 'ignore'
  | { options: Map<number, Buffer>; siaddr?: string; file?: string; sname?: string; delayMs?: number };

export interface ProxyReplyEvent {
  mac: string;
  xid: number;
  messageType: number;
  destination: string;
  port: number;
  bytes: number;
  via: 'dhcp' | 'pxe';
}

export interface BadPacketEvent {
  remoteAddress: string;
  remotePort: number;
  via: 'dhcp' | 'pxe';
  error: Error;
}

export interface ProxyStats {
  received: number;
  replies: number;
  ignored: number;
  badPackets: number;
  sendErrors: number;
  /** Replies not sent because the request named a relay this server may not answer (RFC 2131 §4.1). */
  refused: number;
}

export interface RefusedReplyEvent {
  mac: string;
  xid: number;
  giaddr: string;
  ciaddr: string;
  remoteAddress: string;
  reason: string;
  via: 'dhcp' | 'pxe';
}

const socketSchema = z.custom<Socket>(
  (v) => typeof v === 'object' && v !== null && typeof (v as Socket).send === 'function',
  'expected a dgram.Socket',
);
const fnSchema = <T>() => z.custom<T>((v) => typeof v === 'function', 'expected a function');

/** Options of {@link createProxyDhcp}; validated with zod when the responder is created. */
export const ProxyOptionsSchema = z.object({
  /** This host's address on the boot network: option 54, option 66 and siaddr. */
  serverAddress: Ipv4Schema,
  /** Address to bind; broadcasts only arrive on 0.0.0.0 (default). */
  listenAddress: Ipv4Schema.default('0.0.0.0'),
  /** DHCP server port (default 67). 0 picks a free port (tests). */
  port: z.number().int().min(0).max(65535).default(67),
  /** PXE boot server port (default 4011); false disables it. */
  pxePort: z.union([z.number().int().min(0).max(65535), z.literal(false)]).default(4011),
  /** Client port replies go to (default 68). */
  clientPort: z.number().int().min(1).max(65535).default(68),
  /** Port of relay agents (replies to giaddr go there; default 67). */
  relayPort: z.number().int().min(1).max(65535).default(67),
  /**
   * Subnets (CIDR) whose addresses may be answered by unicast (ciaddr, relay giaddr, PXE source).
   * Default: the subnets of the local interfaces that carry `serverAddress`. Other ciaddrs get a
   * broadcast reply, other relays none.
   */
  localSubnets: z.array(z.string()).optional(),
  /** Relay agents (giaddr) allowed outside the local subnets. Default none. */
  allowedRelays: z.array(z.ipv4()).default([]),
  /** Where broadcast replies go: 255.255.255.255 (default) or a subnet-directed broadcast on multi-homed hosts. */
  broadcastAddress: Ipv4Schema.default('255.255.255.255'),
  /**
   * Delay before replying, ms, or a function of the client. Default: 1000 ms for Pi 3 family clients
   * (their ROM takes the first offer, so the address offer should arrive first), 0 otherwise.
   */
  replyDelayMs: z.union([z.number().min(0).max(10_000), fnSchema<(c: ProxyClient) => number>()]).optional(),
  /** Append three spaces to "Raspberry Pi Boot" (Pi 3B ROM bug): true, false or 'auto' (Pi 3B GUID). */
  trailingSpaces: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  /** Per-client decision; default 'boot'. Exceptions are logged and treated as 'ignore'. */
  decide: fnSchema<(c: ProxyClient) => ProxyDecision | Promise<ProxyDecision>>().optional(),
  /** Pre-bound socket for the DHCP port (systemd LISTEN_FDS); it is not bound again. */
  socket: socketSchema.optional(),
  /** Pre-bound socket for the PXE port. */
  pxeSocket: socketSchema.optional(),
  logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null).optional(),
});
export type ProxyOptions = z.input<typeof ProxyOptionsSchema>;
type ResolvedOptions = z.output<typeof ProxyOptionsSchema>;

export interface ProxyDhcpEvents {
  client: [ProxyClient];
  offer: [ProxyReplyEvent];
  'bad-packet': [BadPacketEvent];
  refused: [RefusedReplyEvent];
  error: [Error];
}

function isZero(addr: string): boolean {
  return addr === '0.0.0.0';
}

/** A running (or not yet started) proxyDHCP responder. */
export class ProxyDhcp extends EventEmitter<ProxyDhcpEvents> {
  readonly stats: ProxyStats = {
    received: 0,
    replies: 0,
    ignored: 0,
    badPackets: 0,
    sendErrors: 0,
    refused: 0,
  };
  private readonly options: ResolvedOptions;
  private readonly policy: ReplyPolicy;
  private readonly log: Logger;
  private dhcpSocket: Socket | undefined;
  private pxeSocket: Socket | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(opts: ProxyOptions) {
    super();
    const parsed = ProxyOptionsSchema.safeParse(opts);
    if (!parsed.success)
      throw new DhcpError('CONFIG', `invalid proxyDHCP options: ${z.prettifyError(parsed.error)}`);
    this.options = parsed.data;
    this.policy = {
      localSubnets: (this.options.localSubnets ?? subnetsOf(this.options.serverAddress)).map(parseSubnet),
      allowedRelays: new Set(this.options.allowedRelays),
      broadcastAddress: this.options.broadcastAddress,
      clientPort: this.options.clientPort,
      relayPort: this.options.relayPort,
    };
    this.log = (this.options.logger ?? silentLogger).child({ component: 'proxy-dhcp' });
  }

  /** Bind the DHCP (and PXE) sockets, or adopt the pre-bound ones. */
  async listen(): Promise<void> {
    this.dhcpSocket = await this.open(this.options.socket, this.options.port, 'dhcp');
    if (this.options.pxePort !== false || this.options.pxeSocket) {
      this.pxeSocket = await this.open(
        this.options.pxeSocket,
        this.options.pxePort === false ? 0 : this.options.pxePort,
        'pxe',
      );
    }
    this.log.info({ ...this.address(), serverAddress: this.options.serverAddress }, 'proxyDHCP listening');
    if (this.policy.localSubnets.length === 0)
      this.log.warn(
        { serverAddress: this.options.serverAddress },
        'serverAddress is on no local interface and localSubnets is not set: every reply is broadcast, relays are answered only from allowedRelays',
      );
  }

  /** Bound ports (after listen). */
  address(): { address: string; port: number; pxePort: number | undefined } {
    const a = this.dhcpSocket?.address();
    return {
      address: a?.address ?? this.options.listenAddress,
      port: a?.port ?? this.options.port,
      pxePort: this.pxeSocket?.address().port,
    };
  }

  /** Stop listening; pending delayed replies are dropped. Pre-bound sockets are closed too. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closeOne = (s: Socket | undefined) =>
      new Promise<void>((resolve) => {
        if (!s) return resolve();
        try {
          s.close(() => resolve());
        } catch {
          resolve(); // already closed
        }
      });
    await Promise.all([closeOne(this.dhcpSocket), closeOne(this.pxeSocket)]);
    this.dhcpSocket = undefined;
    this.pxeSocket = undefined;
  }

  private async open(given: Socket | undefined, port: number, via: 'dhcp' | 'pxe'): Promise<Socket> {
    let s = given;
    if (!s) {
      const sock = createSocket({ type: 'udp4', reuseAddr: true });
      await new Promise<void>((resolve, reject) => {
        const onError = (e: Error) =>
          reject(new DhcpError('SOCKET', `cannot bind UDP ${port}: ${e.message}`, { cause: e }));
        sock.once('error', onError);
        sock.bind({ port, address: this.options.listenAddress }, () => {
          sock.off('error', onError);
          resolve();
        });
      });
      s = sock;
    }
    s.setBroadcast(true); // SO_BROADCAST: replies go to 255.255.255.255 (RFC 2131 §4.1)
    s.on('message', (buf, rinfo) => {
      void this.onMessage(buf, rinfo, via);
    });
    s.on('error', (e) => {
      this.log.error({ err: e, via }, 'socket error');
      if (this.listenerCount('error') > 0) this.emit('error', e);
    });
    return s;
  }

  private async onMessage(buf: Buffer, rinfo: RemoteInfo, via: 'dhcp' | 'pxe'): Promise<void> {
    try {
      await this.handle(buf, rinfo, via);
    } catch (e) {
      // Never let one request take the responder down.
      const err = e instanceof Error ? e : new Error(String(e));
      this.stats.badPackets++;
      this.log.warn({ err, from: rinfo.address, via }, 'failed to handle request');
      this.emit('bad-packet', { remoteAddress: rinfo.address, remotePort: rinfo.port, via, error: err });
    }
  }

  private async handle(buf: Buffer, rinfo: RemoteInfo, via: 'dhcp' | 'pxe'): Promise<void> {
    if (this.closed) return;
    this.stats.received++;
    const msg = decodeMessage(buf); // DhcpDecodeError → counted as a bad packet by onMessage
    const type = msg.options.get(OptionCode.MESSAGE_TYPE);
    const messageType = type?.length === 1 ? (type[0] as number) : 0;
    if (
      msg.op !== 1 ||
      !(
        messageType === DhcpMessageType.DISCOVER ||
        messageType === DhcpMessageType.REQUEST ||
        (via === 'pxe' && messageType === DhcpMessageType.INFORM)
      )
    ) {
      this.stats.ignored++;
      return;
    }
    const vendorRaw = msg.options.get(OptionCode.VENDOR_CLASS_ID);
    const vendorClass = vendorRaw?.toString('latin1');
    const pi = detectRaspberryPi(msg);
    // Answer only PXE clients (option 60 "PXEClient…") or recognisable Pis (a Pi 4 REQUEST has no option 60).
    if (!vendorClass?.startsWith('PXEClient') && !pi) {
      this.stats.ignored++;
      return;
    }
    const archRaw = msg.options.get(OptionCode.CLIENT_ARCH);
    const client: ProxyClient = {
      model: pi?.model ?? 'pxe',
      mac: macOf(msg),
      address: rinfo.address,
      port: rinfo.port,
      xid: msg.xid,
      messageType,
      via,
      request: msg,
    };
    if (pi?.serial !== undefined) client.serial = pi.serial;
    if (pi?.boardRevision !== undefined) client.boardRevision = pi.boardRevision;
    if (vendorClass !== undefined) client.vendorClass = vendorClass;
    if (archRaw && archRaw.length >= 2) client.arch = archRaw.readUInt16BE(0);
    this.log.debug(
      { mac: client.mac, model: client.model, serial: client.serial, via, messageType },
      'boot client',
    );
    this.emit('client', client);

    // A REQUEST on port 67 addressed to another server belongs to that server's address exchange.
    if (via === 'dhcp' && messageType === DhcpMessageType.REQUEST) {
      const sid = msg.options.get(OptionCode.SERVER_ID);
      if (!sid?.equals(ipv4ToBuffer(this.options.serverAddress))) {
        this.stats.ignored++;
        return;
      }
    }
    let decision: ProxyDecision;
    try {
      decision = this.options.decide ? await this.options.decide(client) : 'boot';
    } catch (e) {
      this.log.error({ err: e, mac: client.mac }, 'decide() threw; ignoring client');
      decision = 'ignore';
    }
    if (decision === 'ignore' || this.closed) {
      this.stats.ignored++;
      return;
    }
    const target = replyTarget(this.policy, msg, rinfo, via);
    if (target.kind === 'refused') {
      this.stats.refused++;
      this.log.debug({ mac: client.mac, giaddr: msg.giaddr, reason: target.reason }, 'reply refused');
      this.emit('refused', {
        mac: client.mac,
        xid: msg.xid,
        giaddr: msg.giaddr,
        ciaddr: msg.ciaddr,
        remoteAddress: rinfo.address,
        reason: target.reason,
        via,
      });
      return;
    }
    const reply = this.buildReply(msg, messageType, via, decision);
    const { address: destination, port } = target;
    const delay =
      typeof decision === 'object' && decision.delayMs !== undefined
        ? decision.delayMs
        : this.delayFor(client);
    const bytes = encodeMessage(reply);
    const send = () => {
      const sock = via === 'pxe' ? this.pxeSocket : this.dhcpSocket;
      if (!sock || this.closed) return;
      sock.send(bytes, port, destination, (err) => {
        if (err) {
          this.stats.sendErrors++;
          this.log.warn({ err, destination, port }, 'reply not sent');
          return;
        }
        this.stats.replies++;
        this.log.info({ mac: client.mac, model: client.model, destination, port, via }, 'boot reply sent');
        this.emit('offer', {
          mac: client.mac,
          xid: msg.xid,
          messageType: reply.options.get(OptionCode.MESSAGE_TYPE)?.[0] ?? 0,
          destination,
          port,
          bytes: bytes.length,
          via,
        });
      });
    };
    if (delay > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        send();
      }, delay);
      this.timers.add(t);
    } else send();
  }

  private delayFor(client: ProxyClient): number {
    const d = this.options.replyDelayMs;
    if (typeof d === 'number') return d;
    if (typeof d === 'function') return Math.max(0, Math.min(10_000, d(client)));
    return client.model === 'pi3b' ||
      client.model === 'pi3b+' ||
      PI3_FAMILY_OUIS.includes(client.mac.slice(0, 8))
      ? 1000
      : 0;
  }

  private buildReply(
    req: DhcpMessage,
    messageType: number,
    via: 'dhcp' | 'pxe',
    decision: Exclude<ProxyDecision, 'ignore'>,
  ): DhcpMessage {
    const reply = emptyMessage(2);
    // Copy what identifies the exchange; yiaddr stays 0.0.0.0 (a proxy never assigns addresses).
    reply.htype = req.htype;
    reply.hlen = req.hlen;
    reply.xid = req.xid;
    reply.flags = req.flags;
    reply.giaddr = req.giaddr;
    reply.chaddr = Buffer.from(req.chaddr);
    const out = reply.options;
    out.set(
      OptionCode.MESSAGE_TYPE,
      Buffer.from([messageType === DhcpMessageType.DISCOVER ? DhcpMessageType.OFFER : DhcpMessageType.ACK]),
    );
    let source: Map<number, Buffer>;
    if (decision === 'boot') {
      // 'auto': the model table decides for the detected model (the Pi 3B ROM needs the padded text).
      const padded = option43Text([detectRaspberryPi(req)?.model]) === PI_BOOT_MENU_TEXT_PADDED;
      const spaces = this.options.trailingSpaces === 'auto' ? padded : this.options.trailingSpaces;
      const boot = raspberryPiBootOptions({
        serverAddress: this.options.serverAddress,
        trailingSpaces: spaces,
      });
      reply.siaddr = boot.siaddr;
      source = boot.options;
      // PXE boot server ACK (port 4011): echo the requested boot item (sub-option 71).
      if (via === 'pxe') {
        const item = this.requestedBootItem(req);
        const o43 = source.get(OptionCode.VENDOR_SPECIFIC);
        if (item && o43) {
          source.set(
            OptionCode.VENDOR_SPECIFIC,
            encodePxeVendorOptions({ ...decodePxeVendorOptions(o43), bootItem: item }),
          );
        }
      }
    } else {
      source = decision.options;
      if (decision.siaddr !== undefined) reply.siaddr = decision.siaddr;
      if (decision.file !== undefined) reply.file = decision.file;
      if (decision.sname !== undefined) reply.sname = decision.sname;
    }
    const uuid = req.options.get(OptionCode.CLIENT_UUID);
    for (const [code, value] of source) {
      if (code === OptionCode.MESSAGE_TYPE) continue;
      out.set(code, value);
      // dnsmasq order: 53, 54, 60, 97 (echo of the client's machine id, RFC 4578 §2.3), then the rest.
      if (code === OptionCode.VENDOR_CLASS_ID && uuid && !source.has(OptionCode.CLIENT_UUID)) {
        out.set(OptionCode.CLIENT_UUID, uuid);
      }
    }
    if (uuid && !out.has(OptionCode.CLIENT_UUID)) out.set(OptionCode.CLIENT_UUID, uuid);
    // RFC 3046 §2.2: a server echoes the Relay Agent Information option as the last option of its reply.
    const relayInfo = req.options.get(OptionCode.RELAY_AGENT_INFO);
    if (relayInfo && !isZero(req.giaddr)) {
      out.delete(OptionCode.RELAY_AGENT_INFO);
      out.set(OptionCode.RELAY_AGENT_INFO, relayInfo);
    }
    return reply;
  }

  private requestedBootItem(req: DhcpMessage): { type: number; layer: number } | undefined {
    const o43 = req.options.get(OptionCode.VENDOR_SPECIFIC);
    if (!o43) return undefined;
    try {
      return decodePxeVendorOptions(o43).bootItem;
    } catch {
      return undefined;
    }
  }
}

/** Create a proxyDHCP responder; call `listen()` to start it and `close()` to stop it. */
export function createProxyDhcp(opts: ProxyOptions): ProxyDhcp {
  return new ProxyDhcp(opts);
}
