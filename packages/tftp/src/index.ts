/**
 * @bramble/tftp — an embeddable TFTP server and client (RFC 1350, 2347, 2348, 2349, 7440).
 * @packageDocumentation
 */
export {
  type ClientOptions,
  ClientOptionsSchema,
  download,
  fetchFile,
  get,
  type ProbeAbort,
  probeSize,
  put,
} from './client.js';
export {
  accessDenied,
  ErrorCode,
  notFound,
  TftpAbortError,
  TftpConfigError,
  TftpError,
  TftpPacketError,
  TftpRemoteError,
  TftpRequestError,
  TftpTimeoutError,
} from './errors.js';
export { type FsHandlerOptions, FsHandlerOptionsSchema, fsHandler, safeComponents } from './fs-handler.js';
export {
  type FsWriteHandlerOptions,
  FsWriteHandlerOptionsSchema,
  fsWriteHandler,
} from './fs-write-handler.js';
export { defaultPumpThreads, nativePumpStatus } from './native.js';
export { acceptOack, type Negotiated, negotiateServer, type RolloverPolicy } from './negotiation.js';
export { fromNetascii, NetasciiDecoder, toNetascii } from './netascii.js';
export {
  type AckPacket,
  type DataPacket,
  decode,
  type ErrorPacket,
  encode,
  encodingLength,
  type OackPacket,
  Opcode,
  type Packet,
  type RequestPacket,
} from './packet.js';
export { compileRemap, type RemapResult, type RemapRule, RemapRuleSchema } from './remap.js';
export {
  type CloseOptions,
  createServer,
  type ListenOptions,
  type ServerAddress,
  TftpServer,
  type TftpServerEvents,
} from './server.js';
export { type ServerOptions, ServerOptionsSchema } from './server-config.js';
export {
  bufferSource,
  fileSource,
  type ReadResponse,
  type ReadSource,
  streamSource,
  toReadSource,
} from './source.js';
export type {
  ClassifyRequest,
  ReadHandler,
  RequestClassifier,
  RequestContext,
  RequestPriority,
  RewriteHook,
  TransferEvent,
  TransferStats,
  WriteHandler,
} from './types.js';
export const VERSION = '0.1.0';
export { type Logger, silentLogger } from '@bramble/logger';
