/** Server configuration schema (zod). */
import type { Socket } from 'node:dgram';
import { z } from 'zod';
import type { Logger } from './logger.js';
import { MAX_BLKSIZE, MAX_WINDOWSIZE, MIN_BLKSIZE } from './options.js';
import { RemapRuleSchema } from './remap.js';
import type { ReadHandler, RewriteHook, WriteHandler } from './types.js';

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
    /** Largest netascii file served (netascii is converted in memory). */
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
  .strict();

export type ServerOptions = z.input<typeof ServerOptionsSchema>;
export type ResolvedServerOptions = z.output<typeof ServerOptionsSchema>;
