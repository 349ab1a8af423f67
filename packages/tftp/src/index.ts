/**
 * @bramble/tftp — an embeddable TFTP server and client (RFC 1350, 2347, 2348, 2349, 7440).
 * @packageDocumentation
 */
export { get, fetchFile, probeSize, put, ClientOptionsSchema, type ClientOptions } from './client.js';
export {
  TftpError,
  TftpRemoteError,
  TftpTimeoutError,
  TftpPacketError,
  TftpRequestError,
  TftpAbortError,
  TftpConfigError,
  ErrorCode,
  notFound,
  accessDenied,
} from './errors.js';
export {
  createServer,
  TftpServer,
  type ListenOptions,
  type CloseOptions,
  type ServerAddress,
  type TftpServerEvents,
} from './server.js';
export { ServerOptionsSchema, type ServerOptions } from './server-options.js';
export { fsHandler, safeComponents, FsHandlerOptionsSchema, type FsHandlerOptions } from './fs-handler.js';
export { compileRemap, RemapRuleSchema, type RemapRule, type RemapResult } from './remap.js';
export { bufferSource, fileSource, streamSource, toReadSource, type ReadSource, type ReadResponse } from './source.js';
export {
  encode,
  decode,
  encodingLength,
  Opcode,
  type Packet,
  type RequestPacket,
  type DataPacket,
  type AckPacket,
  type ErrorPacket,
  type OackPacket,
} from './packet.js';
export { negotiateServer, acceptOack, type Negotiated, type RolloverPolicy } from './options.js';
export { toNetascii, fromNetascii, NetasciiDecoder } from './netascii.js';
export type { RequestContext, ReadHandler, WriteHandler, RewriteHook, TransferEvent, TransferStats } from './types.js';
export const VERSION = '0.1.0';
