/**
 * The server's datagram transport: listening sockets (one per local IPv4 address, so replies leave from the
 * address a request arrived on), per-transfer sockets from an optional port range, and single-port mode,
 * where every transfer shares the listening socket and packets are demultiplexed by client address and
 * port. It knows packets only as far as routing needs (RFC 1350 §4 TIDs); requests go to the server.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Logger } from '@bramble/logger';
import { z } from 'zod';
import { ErrorCode, TftpConfigError, TftpError } from './errors.js';
import { decode, errorPacket, Opcode, peekOpcode, type RequestPacket } from './packet.js';
import { udp4Socket } from './udp.js';

const WILDCARD = '0.0.0.0';

export interface ListenOptions {
  /**
   * IPv4 address(es). '0.0.0.0' (default) binds one socket per local IPv4 address, so replies leave from the
   * address the request arrived on (Node's dgram cannot report the arrival address); the local addresses are
   * looked at again every `rescanIntervalMs`, so an interface that gets its address later is served too.
   */
  address?: string | readonly string[];
  /** Default 69; 0 picks a free port (the same one on every address). */
  port?: number;
  /**
   * With '0.0.0.0': how often (ms) the local IPv4 addresses are listed again, binding a socket on each new one
   * and closing those of addresses that went away. Default 2000; 0 = only at listen time.
   */
  rescanIntervalMs?: number;
}

/** ListenOptions checked (the address list is checked by the bind itself). */
const ListenOptionsSchema = z
  .object({
    address: z.union([z.string(), z.array(z.string()).readonly()]).default(WILDCARD),
    port: z.number().int().min(0).max(65535).default(69),
    rescanIntervalMs: z.number().int().min(0).max(3_600_000).default(2000),
  })
  .strict();

export interface ServerAddress {
  address: string;
  port: number;
}

/** A socket requests arrive on. */
export interface Listener {
  socket: Socket;
  localAddress: string;
  owned: boolean;
  /** Set when the socket was closed (its address went away, or the server closed): nothing is sent on it. */
  closed?: boolean;
}

/** A transfer's path to its client: its own socket, or the listening socket in single-port mode. */
export interface Channel {
  /** Control packets (OACK, ACK). */
  send(packet: Buffer, length: number): void;
  /** DATA as header + payload (scatter/gather; neither is copied). */
  sendData(header: Buffer, payload: Buffer, sent?: () => void): void;
  sendError(code: number, message: string): void;
  /** Datagrams from the client's TID. */
  onPacket: (msg: Buffer) => void;
  /** ICMP port unreachable reported for the client (the socket saw ECONNREFUSED). */
  onUnreachable: () => void;
  close(): void;
}

export interface TransportConfig {
  singlePort: boolean;
  portRange?: [number, number] | undefined;
  socket?: Socket | undefined;
}

/** A request datagram from a client with no transfer running, decoded. */
export type RequestSink = (listener: Listener, request: RequestPacket, remote: RemoteInfo) => void;

/** The routing entry of a running transfer (single-port mode delivers its packets through it). */
interface Route {
  receive?: ((msg: Buffer) => void) | undefined;
}

export class Transport {
  private listeners: Listener[] = [];
  /** What `listen` asked for (undefined before listen and after close); `port` is the bound one. */
  private wanted: { fixed: string[]; wildcard: boolean; port: number } | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private rescanning: Promise<void> | undefined;
  /** New addresses whose bind failed (warned once; retried on every rescan). */
  private readonly bindFailures = new Set<string>();
  private readonly routes = new Map<string, Route>();
  private portCursor = 0;
  /** Requests are ignored while false (closing). */
  accepting = true;

  constructor(
    private readonly config: TransportConfig,
    private readonly log: Logger,
    private readonly onRequest: RequestSink,
  ) {}

  get listening(): boolean {
    return this.listeners.length > 0;
  }

  async listen(options: ListenOptions): Promise<ServerAddress> {
    if (this.config.socket) {
      const bound = this.config.socket.address();
      this.attach({ socket: this.config.socket, localAddress: bound.address, owned: false });
      return this.address();
    }
    const parsed = ListenOptionsSchema.safeParse(options);
    if (!parsed.success) throw new TftpConfigError(`invalid listen options: ${parsed.error.message}`);
    const { address, port, rescanIntervalMs } = parsed.data;
    const list = typeof address === 'string' ? [address] : [...address];
    this.wanted = { fixed: list.filter((a) => a !== WILDCARD), wildcard: list.includes(WILDCARD), port };
    const addresses = this.wantedAddresses();
    try {
      for (const local of addresses) await this.bindListener(local);
    } catch (e) {
      await this.close();
      throw new TftpError('LISTEN_FAILED', `cannot listen on ${address}:${port}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    this.log.info(
      { addresses, port: this.wanted.port, singlePort: this.config.singlePort },
      'TFTP server listening',
    );
    if (this.wanted.wildcard && rescanIntervalMs > 0) {
      this.rescanTimer = setInterval(() => void this.rescan(), rescanIntervalMs);
      this.rescanTimer.unref();
    }
    return this.address();
  }

  /**
   * Bring the listeners of a '0.0.0.0' listen in line with the local IPv4 addresses now: a socket on each
   * new address, none on an address that went away. Runs on the rescan timer; one run at a time.
   */
  rescan(): Promise<void> {
    if (!this.rescanning) {
      this.rescanning = this.reconcile().finally(() => {
        this.rescanning = undefined;
      });
    }
    return this.rescanning;
  }

  address(): ServerAddress {
    const first = this.listeners[0];
    if (!first) throw new TftpError('NOT_LISTENING', 'server is not listening');
    const bound = first.socket.address();
    return { address: bound.address, port: bound.port };
  }

  addresses(): ServerAddress[] {
    return this.listeners.map((l) => {
      const bound = l.socket.address();
      return { address: bound.address, port: bound.port };
    });
  }

  async close(): Promise<void> {
    clearInterval(this.rescanTimer);
    this.rescanTimer = undefined;
    this.wanted = undefined;
    await this.rescanning;
    this.bindFailures.clear();
    const closing = this.listeners;
    this.listeners = [];
    await Promise.all(closing.map((l) => closeListener(l)));
  }

  /** Hold `key` (client address:port) for a transfer: repeated requests from it are ignored until `release`. */
  claim(key: string): void {
    this.routes.set(key, {});
  }

  release(key: string): void {
    this.routes.delete(key);
  }

  /**
   * The channel of a transfer: a fresh socket on the listener's address (from the port range, round robin),
   * or the listening socket itself in single-port mode.
   */
  async open(listener: Listener, remote: RemoteInfo, key: string): Promise<Channel> {
    const channel: Channel = {
      send: () => {},
      sendData: () => {},
      sendError: () => {},
      onPacket: () => {},
      onUnreachable: () => {},
      close: () => {},
    };
    if (this.config.singlePort) {
      // The listening socket may close under a running transfer (its address went away): the transfer then
      // times out instead of sending on a closed socket.
      const socket = listener.socket;
      channel.send = (packet, length) => {
        if (!listener.closed) socket.send(packet, 0, length, remote.port, remote.address);
      };
      channel.sendData = (header, payload, sent) => {
        if (listener.closed) sent?.();
        else socket.send([header, payload], remote.port, remote.address, sent);
      };
      channel.sendError = (code, message) => this.reply(listener, errorPacket(code, message), remote);
      const route = this.routes.get(key);
      if (route) route.receive = (msg) => channel.onPacket(msg);
      channel.close = () => {
        if (route) route.receive = undefined;
      };
      return channel;
    }
    const socket = await this.bindTransferSocket(listener);
    channel.send = (packet, length) => socket.send(packet, 0, length, remote.port, remote.address);
    channel.sendData = (header, payload, sent) =>
      socket.send([header, payload], remote.port, remote.address, sent);
    channel.sendError = (code, message) =>
      socket.send(errorPacket(code, message), remote.port, remote.address);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // Linux reports ICMP port unreachable as ECONNREFUSED (only where the socket asked for errors).
      if (e.code === 'ECONNREFUSED') channel.onUnreachable();
      else this.log.debug({ err: e, client: key }, 'transfer socket error');
    });
    socket.on('message', (msg, from) => {
      if (from.port === remote.port && from.address === remote.address) channel.onPacket(msg);
      // RFC 1350 §4: a packet from another TID gets ERROR 5 and does not disturb the transfer.
      else if (peekOpcode(msg) !== Opcode.ERROR)
        socket.send(errorPacket(ErrorCode.UNKNOWN_TID, 'Unknown transfer ID'), from.port, from.address);
    });
    let closed = false;
    channel.close = () => {
      if (closed) return;
      closed = true;
      socket.removeAllListeners('message');
      // Close after a just-sent ERROR left (dgram sends after a tick).
      setImmediate(() => {
        try {
          socket.close();
        } catch {
          /* already closed */
        }
      });
    };
    return channel;
  }

  /** A datagram to `remote` from a listening socket (none once that socket closed). */
  reply(listener: Listener, packet: Buffer, remote: { address: string; port: number }): void {
    if (!listener.closed) listener.socket.send(packet, remote.port, remote.address);
  }

  /** Where a transfer socket bound outside this transport (the native pump) starts looking in the port range. */
  portSearch(): { low: number; high: number; cursor: number } {
    const range = this.config.portRange;
    return range
      ? { low: range[0], high: range[1], cursor: this.portCursor }
      : { low: 0, high: 0, cursor: 0 };
  }

  /** A port of the range was taken elsewhere: continue the round robin after it. */
  portTaken(port: number): void {
    const range = this.config.portRange;
    if (range) this.portCursor = (port - range[0] + 1) % (range[1] - range[0] + 1);
  }

  /** The addresses a listen asked for, '0.0.0.0' expanded to the local IPv4 addresses of this moment. */
  private wantedAddresses(): string[] {
    const wanted = this.wanted;
    if (!wanted) return [];
    const all = new Set(wanted.fixed);
    if (wanted.wildcard) for (const local of localIPv4Addresses()) all.add(local);
    return [...all];
  }

  private async bindListener(local: string): Promise<void> {
    const wanted = this.wanted;
    if (!wanted) return;
    const socket = udp4Socket();
    try {
      await bindSocket(socket, wanted.port, local);
    } catch (e) {
      socket.close();
      throw e;
    }
    // Port 0: the first bind picked the port; every later address gets the same one.
    wanted.port = socket.address().port;
    this.attach({ socket, localAddress: local, owned: true });
  }

  private async reconcile(): Promise<void> {
    if (!this.wanted?.wildcard) return;
    const wanted = new Set(this.wantedAddresses());
    // Gone first: the '0.0.0.0' stand-in of a host without addresses holds the port on every address.
    const gone = this.listeners.filter((l) => l.owned && !wanted.has(l.localAddress));
    for (const listener of gone) {
      this.listeners = this.listeners.filter((l) => l !== listener);
      await closeListener(listener);
      this.log.info(
        { address: listener.localAddress, port: this.wanted?.port },
        'TFTP address gone: stopped listening on it',
      );
    }
    const have = new Set(this.listeners.map((l) => l.localAddress));
    for (const local of wanted) {
      if (have.has(local) || !this.wanted) continue;
      try {
        await this.bindListener(local);
        this.bindFailures.delete(local);
        this.log.info({ address: local, port: this.wanted.port }, 'TFTP address appeared: listening on it');
      } catch (e) {
        // Tried again on the next rescan; said once per address.
        if (!this.bindFailures.has(local))
          this.log.warn(
            { err: e, address: local, port: this.wanted.port },
            'cannot listen on a new local address',
          );
        this.bindFailures.add(local);
      }
    }
    for (const failed of this.bindFailures) if (!wanted.has(failed)) this.bindFailures.delete(failed);
  }

  private attach(listener: Listener): void {
    listener.socket.on('message', (msg, remote) => this.onListenerMessage(listener, msg, remote));
    listener.socket.on('error', (e) => this.log.warn({ err: e }, 'listening socket error'));
    this.listeners.push(listener);
  }

  private onListenerMessage(listener: Listener, msg: Buffer, remote: RemoteInfo): void {
    const route = this.routes.get(`${remote.address}:${remote.port}`);
    const op = peekOpcode(msg);
    if (route) {
      // Single-port mode: packets of a running transfer arrive here. A repeated request is a duplicate.
      route.receive?.(msg);
      return;
    }
    if (op !== Opcode.RRQ && op !== Opcode.WRQ) {
      // RFC 1350 §4: a packet for no known transfer gets ERROR 5 (never answer an ERROR with an ERROR).
      if (this.config.singlePort && (op === Opcode.ACK || op === Opcode.DATA) && msg.length >= 4)
        listener.socket.send(
          errorPacket(ErrorCode.UNKNOWN_TID, 'Unknown transfer ID'),
          remote.port,
          remote.address,
        );
      return;
    }
    if (!this.accepting) return;
    let request: RequestPacket;
    try {
      request = decode(msg) as RequestPacket;
    } catch (e) {
      // Malformed request: ERROR 4 (RFC 1350 §5 "Illegal TFTP operation").
      listener.socket.send(
        errorPacket(ErrorCode.ILLEGAL_OPERATION, `Malformed request: ${(e as Error).message}`),
        remote.port,
        remote.address,
      );
      return;
    }
    this.onRequest(listener, request, remote);
  }

  private async bindTransferSocket(listener: Listener): Promise<Socket> {
    const socket = udp4Socket();
    const local = listener.localAddress;
    const range = this.config.portRange;
    if (!range) {
      await bindSocket(socket, 0, local);
      return socket;
    }
    const [low, high] = range;
    const count = high - low + 1;
    for (let i = 0; i < count; i++) {
      const port = low + ((this.portCursor + i) % count);
      try {
        await bindSocket(socket, port, local);
        this.portTaken(port);
        return socket;
      } catch {
        /* in use: try the next port */
      }
    }
    socket.close();
    throw new TftpError('NO_PORT', `no free port in range ${low}-${high}`);
  }
}

function bindSocket(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function closeListener(listener: Listener): Promise<void> {
  listener.closed = true;
  return new Promise<void>((resolve) => {
    listener.socket.removeAllListeners('message');
    try {
      listener.socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

function localIPv4Addresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !out.includes(a.address)) out.push(a.address);
  }
  // No address at all (not even loopback): the wildcard stands in until one appears.
  return out.length > 0 ? out : [WILDCARD];
}
