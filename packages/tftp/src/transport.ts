/**
 * The server's datagram transport: listening sockets (one per local IPv4 address, so replies leave from the
 * address a request arrived on), per-transfer sockets from an optional port range, and single-port mode,
 * where every transfer shares the listening socket and packets are demultiplexed by client address and
 * port. It knows packets only as far as routing needs (RFC 1350 §4 TIDs); requests go to the server.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Logger } from '@bramble/logger';
import { ErrorCode, TftpError } from './errors.js';
import { decode, errorPacket, Opcode, peekOpcode, type RequestPacket } from './packet.js';
import { udp4Socket } from './udp.js';

export interface ListenOptions {
  /**
   * IPv4 address(es). '0.0.0.0' (default) binds one socket per local IPv4 address present at listen time, so
   * replies leave from the address the request arrived on (Node's dgram cannot report the arrival address).
   */
  address?: string | readonly string[];
  /** Default 69; 0 picks a free port (the same one on every address). */
  port?: number;
}

export interface ServerAddress {
  address: string;
  port: number;
}

/** A socket requests arrive on. */
export interface Listener {
  socket: Socket;
  localAddress: string;
  owned: boolean;
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
    const address = options.address ?? '0.0.0.0';
    let port = options.port ?? 69;
    const list = typeof address === 'string' ? [address] : [...address];
    const addresses = list.flatMap((a) => (a === '0.0.0.0' ? localIPv4Addresses() : [a]));
    try {
      for (const local of addresses) {
        const socket = udp4Socket();
        await bindSocket(socket, port, local);
        port = socket.address().port;
        this.attach({ socket, localAddress: local, owned: true });
      }
    } catch (e) {
      await this.close();
      throw new TftpError('LISTEN_FAILED', `cannot listen on ${address}:${port}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    this.log.info({ addresses, port, singlePort: this.config.singlePort }, 'TFTP server listening');
    return this.address();
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
    const closing = this.listeners;
    this.listeners = [];
    await Promise.all(
      closing.map(
        (l) =>
          new Promise<void>((resolve) => {
            l.socket.removeAllListeners('message');
            try {
              l.socket.close(() => resolve());
            } catch {
              resolve();
            }
          }),
      ),
    );
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
    const socket = this.config.singlePort ? listener.socket : await this.bindTransferSocket(listener);
    channel.send = (packet, length) => socket.send(packet, 0, length, remote.port, remote.address);
    channel.sendData = (header, payload, sent) =>
      socket.send([header, payload], remote.port, remote.address, sent);
    channel.sendError = (code, message) =>
      socket.send(errorPacket(code, message), remote.port, remote.address);
    if (this.config.singlePort) {
      const route = this.routes.get(key);
      if (route) route.receive = (msg) => channel.onPacket(msg);
      channel.close = () => {
        if (route) route.receive = undefined;
      };
      return channel;
    }
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

function localIPv4Addresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !out.includes(a.address)) out.push(a.address);
  }
  return out.length > 0 ? out : ['0.0.0.0'];
}
