/** Server configuration: the options schema (zod) and the resolved configuration the server runs on. */
import type { Socket } from 'node:dgram';
import type { Logger } from '@bramble/logger';
import { z } from 'zod';
import { TftpConfigError } from './errors.js';
import { MAX_BLKSIZE, MAX_WINDOWSIZE, MIN_BLKSIZE } from './negotiation.js';
import { RemapRuleSchema } from './remap.js';
import type { ReadHandler, RequestClassifier, RewriteHook, WriteHandler } from './types.js';

const fn = <T>(what: string) =>
  z.custom<T>((v) => typeof v === 'function', { message: `${what} must be a function` });
const port = z.number().int().min(0).max(65535);

export const ServerOptionsSchema = z
  .object({
    /** Serves read requests. */
    handler: fn<ReadHandler>('handler'),
    /** Serves write requests; writes are refused with ERROR 2 when omitted. */
    writeHandler: fn<WriteHandler>('writeHandler').optional(),
    logger: z
      .custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).info === 'function')
      .optional(),
    /** All transfers on the listening socket, demultiplexed by client address and port (NAT/containers/firewalls). */
    singlePort: z.boolean().default(false),
    /** Per-transfer ports are taken from this inclusive range. */
    portRange: z
      .tuple([port.min(1), port.min(1)])
      .refine(([a, b]) => a <= b, 'portRange must be [low, high]')
      .optional(),
    /** Concurrent transfers, all clients together. */
    maxTransfers: z.number().int().min(1).default(1024),
    /**
     * Sorts each request into 'known' (a client you expect, e.g. a node of your manifest) or 'unknown'
     * before a transfer slot is given; unknown requests may use all slots but `knownReserve`. Without it,
     * every request is 'known'. A hook that throws counts the request as unknown.
     */
    classify: fn<RequestClassifier>('classify').optional(),
    /** Transfer slots only 'known' requests may take (default: a quarter of maxTransfers when `classify` is set). */
    knownReserve: z.number().int().min(0).optional(),
    /**
     * A transfer whose client never answered its first packet (OACK, DATA 1, or a WRQ's ACK 0) gives up this
     * long after it started, whatever timeout the client asked for: spoofed requests hold a slot only briefly.
     */
    firstReplyTimeoutMs: z.number().int().min(10).max(255_000).default(5000),
    /**
     * Total bytes of read-ahead buffers of all read transfers, both engines (each takes at most 256 KiB; when
     * the budget is spent, further transfers read one block at a time). Blocks in flight are never buffered:
     * they are read again from the file or served from the in-memory source on retransmission.
     */
    bufferBytes: z
      .number()
      .int()
      .min(0)
      .default(64 * 1024 * 1024),
    /** Concurrent transfers of one client address. */
    maxTransfersPerClient: z.number().int().min(1).default(64),
    /**
     * When a limit is reached: 'drop' ignores the request (the client retransmits it and is served when a
     * slot frees, like dnsmasq's back-pressure); 'error' answers ERROR 0 "Server busy".
     */
    onLimit: z.enum(['drop', 'error']).default('drop'),
    /** Largest blksize granted (RFC 2348 requests above it are clamped). */
    blksizeMax: z.number().int().min(MIN_BLKSIZE).max(MAX_BLKSIZE).default(MAX_BLKSIZE),
    /** Largest windowsize granted (RFC 7440 requests above it are clamped). */
    windowsizeMax: z.number().int().min(1).max(MAX_WINDOWSIZE).default(64),
    /** Retransmit timeout in ms when the client did not negotiate RFC 2349 `timeout`; doubles on each retry. */
    timeoutMs: z.number().int().min(10).max(255_000).default(1000),
    retries: z.number().int().min(0).max(50).default(5),
    /** Block-number rollover after 65535: wrap to 0 (default), to 1, or refuse large files. */
    rollover: z.enum(['wrap0', 'wrap1', 'refuse']).default('wrap0'),
    /** Filename rewrite rules, applied in order (see `RemapRule`). */
    remap: z.array(RemapRuleSchema).default([]),
    /** Rewrite hook in code, run after the remap rules. */
    rewrite: fn<RewriteHook>('rewrite').optional(),
    /** Largest netascii file served, when its size is known (netascii is converted as it is read). */
    netasciiMaxBytes: z
      .number()
      .int()
      .min(0)
      .default(16 * 1024 * 1024),
    /**
     * Who moves the blocks of read transfers: 'native' = the pump of native/pump.c on its own threads (files
     * and buffers of known size, per-transfer ports; others still use the TypeScript sender), 'js' = the
     * TypeScript sender always, 'auto' (default) = native when the addon is built, else js.
     */
    engine: z.enum(['auto', 'native', 'js']).default('auto'),
    /** Threads of the native pump (process-wide; the first server to start it decides). Default half the CPUs, 1 to 4. */
    pumpThreads: z.number().int().min(1).max(16).optional(),
    /** A pre-bound UDP socket to serve on (systemd socket activation); `listen()` then binds nothing. */
    socket: z
      .custom<Socket>((v) => typeof v === 'object' && v !== null && typeof (v as Socket).send === 'function')
      .optional(),
  })
  .strict()
  .refine((options) => (options.knownReserve ?? 0) < options.maxTransfers, {
    message: 'knownReserve must be smaller than maxTransfers',
  });

export type ServerOptions = z.input<typeof ServerOptionsSchema>;
/** The options after defaults: what the server and its engines run on. */
export type ServerConfig = z.output<typeof ServerOptionsSchema> & { knownReserve: number };

/** Validate options (TftpConfigError on bad input) and fill in the defaults. */
export function resolveServerConfig(options: ServerOptions): ServerConfig {
  const parsed = ServerOptionsSchema.safeParse(options);
  if (!parsed.success) throw new TftpConfigError(`invalid TFTP server options: ${parsed.error.message}`);
  const config = parsed.data;
  const knownReserve =
    config.knownReserve ?? (config.classify ? Math.max(1, Math.floor(config.maxTransfers / 4)) : 0);
  return { ...config, knownReserve: Math.min(knownReserve, config.maxTransfers - 1) };
}
