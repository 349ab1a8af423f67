/** Public types shared by the server, handlers and events. */
import type { Writable } from 'node:stream';
import type { TftpError } from './errors.js';
import type { ReadResponse } from './source.js';

/** What a handler knows about a request. */
export interface RequestContext {
  /** File name after remap rules and the rewrite hook. */
  file: string;
  /** File name exactly as the client sent it. */
  requestedFile: string;
  mode: 'octet' | 'netascii';
  /** Options the client requested (names lower-cased). */
  options: Readonly<Record<string, string>>;
  remoteAddress: string;
  remotePort: number;
  /** Local address the request arrived on (the address the transfer replies from). */
  localAddress: string;
  /** WRQ only: size announced with RFC 2349 tsize. */
  size?: number;
}

/**
 * Read handler: return a source (Buffer, Readable, `{ stream, size }`, `{ file }` or a `ReadSource`),
 * or throw `notFound()` / `accessDenied()` (any `TftpRequestError`). Returning `null` means not found.
 */
export type ReadHandler = (req: RequestContext) => ReadResponse | null | Promise<ReadResponse | null>;

/** Write handler: return a Writable that receives the file, or throw `accessDenied()` etc. */
export type WriteHandler = (req: RequestContext) => Writable | Promise<Writable>;

/** Rewrite hook, run after remap rules: return a new name, or `null` to refuse with ERROR 2. */
export type RewriteHook = (
  file: string,
  req: Omit<RequestContext, 'file'>,
) => string | null | Promise<string | null>;

/** What a request classifier sees: the request as it arrived, before remap rules and handlers. */
export interface ClassifyRequest {
  /** File name exactly as the client sent it. */
  file: string;
  write: boolean;
  mode: string;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
}

/** 'known' requests may use the slots reserved for them (`knownReserve`); 'unknown' ones may not. */
export type RequestPriority = 'known' | 'unknown';

/** Server option `classify`: sorts requests before a transfer slot is given. Must be quick and synchronous. */
export type RequestClassifier = (request: ClassifyRequest) => RequestPriority;

/** Payload of every server event. */
export interface TransferEvent {
  file: string;
  requestedFile: string;
  direction: 'read' | 'write';
  mode: 'octet' | 'netascii';
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  /** Negotiated options (the OACK sent; empty if none). */
  options: Record<string, string>;
  bytes: number;
  blocks: number;
  retransmits: number;
  durationMs: number;
  /** 'complete' although the client's final ACK never arrived (every block was sent, the earlier ones acknowledged). */
  finalAckMissing?: boolean;
  error?: TftpError;
}

/** Statistics of a client transfer. */
export interface TransferStats {
  file: string;
  bytes: number;
  blocks: number;
  retransmits: number;
  durationMs: number;
  /** Negotiated options (the server's OACK; empty if the server sent none). */
  options: Record<string, string>;
}
