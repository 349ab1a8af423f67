/**
 * One transfer as the server tracks it, and the interface every transfer engine implements (TypeScript
 * read, TypeScript write, native pump). An engine moves the blocks of one transfer and reports how it ended
 * through `EngineHooks.end`; the server owns admission, events and limits.
 */
import type { RemoteInfo } from 'node:dgram';
import { ErrorCode, TftpError, TftpRemoteError } from './errors.js';
import { decode, Opcode, peekOpcode, type RequestPacket } from './packet.js';
import type { Channel, Listener } from './transport.js';
import type { RequestPriority } from './types.js';

export type Outcome = 'complete' | 'aborted' | 'failed';

export interface EngineStats {
  bytes: number;
  blocks: number;
  retransmits: number;
  /** Complete although the client's final ACK never arrived. */
  finalAckMissing: boolean;
}

export interface TransferEngine {
  stats(): EngineStats;
  /** Server shutdown: tell the client (ERROR 0) and end the transfer; resolves once it has ended. */
  cancel(): Promise<void>;
  /** The transfer ended (any outcome): stop timers, let go of sockets, sources and streams. Idempotent. */
  dispose(outcome: Outcome): void;
}

/** How an engine reports the end of its transfer (once; later calls are ignored by the server). */
export interface EngineHooks {
  end(outcome: Outcome, error?: TftpError): void;
  /** The engine let go of its channel (after a write's dally): the client's TID may start a new transfer. */
  closed(): void;
}

export class Transfer {
  readonly key: string;
  readonly startedAt = performance.now();
  /** File name after remap rules and the rewrite hook. */
  file: string;
  /** The negotiated options (the OACK sent). */
  options: Record<string, string> = {};
  ended = false;
  engine: TransferEngine | undefined;

  constructor(
    readonly request: RequestPacket,
    readonly remote: RemoteInfo,
    readonly listener: Listener,
    readonly priority: RequestPriority,
  ) {
    this.key = `${remote.address}:${remote.port}`;
    this.file = request.filename;
  }

  get write(): boolean {
    return this.request.op === Opcode.WRQ;
  }

  stats(): EngineStats {
    return this.engine?.stats() ?? { bytes: 0, blocks: 0, retransmits: 0, finalAckMissing: false };
  }
}

/** What a TypeScript engine does with each kind of datagram from its client. */
export interface ClientPacketHandlers {
  ack?: (block: number) => void;
  data?: (block: number, payload: Buffer) => void;
}

/**
 * Route a datagram from the client's TID: ACK/DATA to the engine's machine; a client ERROR ends the
 * transfer as aborted (firmware size probes); an ACK on a write, DATA on a read or an OACK is an illegal
 * operation (ERROR 4, RFC 1350 §5). RRQ/WRQ from the same TID are duplicates of the request: ignored.
 */
export function dispatchClientPacket(
  msg: Buffer,
  handlers: ClientPacketHandlers,
  channel: Channel,
  hooks: EngineHooks,
  file: string,
): void {
  const op = peekOpcode(msg);
  if (op === Opcode.ACK) {
    if (handlers.ack) {
      if (msg.length >= 4) handlers.ack(msg.readUInt16BE(2));
    } else illegal('ACK during a write transfer', channel, hooks);
  } else if (op === Opcode.DATA) {
    if (handlers.data) {
      if (msg.length >= 4) handlers.data(msg.readUInt16BE(2), msg.subarray(4));
    } else illegal('DATA during a read transfer', channel, hooks);
  } else if (op === Opcode.ERROR) {
    hooks.end('aborted', remoteError(msg, file));
  } else if (op === Opcode.OACK) {
    illegal('OACK sent to a server', channel, hooks);
  }
}

function illegal(what: string, channel: Channel, hooks: EngineHooks): void {
  channel.sendError(ErrorCode.ILLEGAL_OPERATION, 'Illegal TFTP operation');
  hooks.end('failed', new TftpError('PROTOCOL', what));
}

function remoteError(msg: Buffer, file: string): TftpRemoteError {
  try {
    const packet = decode(msg);
    if (packet.op === Opcode.ERROR) return new TftpRemoteError(packet.code, packet.message, file);
  } catch {
    /* keep defaults */
  }
  return new TftpRemoteError(0, '', file);
}

/** The error of a transfer whose client's host answered ICMP port unreachable: it is gone. */
export function unreachableError(remote: { address: string; port: number }): TftpError {
  return new TftpError(
    'UNREACHABLE',
    `client ${remote.address}:${remote.port} is unreachable (ICMP port unreachable)`,
  );
}

export function shutdownError(): TftpError {
  return new TftpError('SHUTDOWN', 'server closed before the transfer finished');
}
