import { definedOnly, normaliseSerial } from '@bramble/pi';
import type { Logger } from '@bramble/tftp';
import { z } from 'zod';
import { bootVirtualPi } from './boot.js';
import { VirtualPiError } from './errors.js';
import { SIMULATED_MODELS } from './models/index.js';
import type { PiModel } from './models/types.js';
import { type DhcpTarget, DhcpTargetSchema } from './options.js';
import type { BootReport } from './report.js';

export interface StormOptions {
  /** How many virtual Pis boot at once. */
  count: number;
  /** Models, assigned round-robin (['pi4'] → all Pi 4; ['pi3b+', 'pi4', 'pi5'] → a mix). */
  models: readonly PiModel[];
  /** Serial of the first Pi; the others count up from it (default 'b0000000'). Use serials your server has trees for, or 'serials'. */
  firstSerial?: string;
  /** Explicit serials (overrides firstSerial); its length must be ≥ count. */
  serials?: readonly string[];
  /** DHCP target shared by all (each Pi binds its own client port when clientPort is 0). */
  dhcp?: DhcpTarget | false;
  tftp?: { host?: string; port?: number; localAddress?: string };
  tftpPrefix?: string;
  /** Per-Pi limit (default 120 s). */
  timeoutMs?: number;
  /** Per-file TFTP limit (EEPROM TFTP_FILE_TIMEOUT; default the model's 30 s). */
  tftpFileTimeoutMs?: number;
  /** Delay between starting Pis, ms (0 = all at once, like a power-on of a whole rack). */
  staggerMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
}

export interface StormReport {
  count: number;
  booted: number;
  failed: number;
  byModel: Partial<Record<PiModel, { count: number; booted: number }>>;
  /** Failure reasons and how many Pis hit each. */
  reasons: Record<string, number>;
  totalBytes: number;
  durationMs: number;
  /** Bytes of all Pis over the wall-clock time of the storm, MB/s (10^6). */
  throughputMBps: number;
  /** Per-Pi boot time, ms. */
  bootMs: { min: number; p50: number; p95: number; max: number };
  reports: BootReport[];
}

const StormSchema = z.object({
  count: z.number().int().min(1).max(1000),
  models: z.array(z.enum(SIMULATED_MODELS as unknown as [PiModel, ...PiModel[]])).min(1),
  firstSerial: z.string().optional(),
  serials: z.array(z.string()).optional(),
  dhcp: z.union([DhcpTargetSchema, z.literal(false)]).optional(),
  staggerMs: z.number().int().min(0).max(60_000).optional(),
});

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

/** Serials counting up from `first`, 8 hex digits each. */
export function serialRange(first: string, count: number): string[] {
  const start = Number.parseInt(normaliseSerial(first), 16);
  return Array.from({ length: count }, (_, i) => ((start + i) >>> 0).toString(16).padStart(8, '0'));
}

/**
 * Boot `count` virtual Pis of mixed models at the same time against any DHCP/TFTP server and aggregate what
 * happened: how many would boot, why the others would not, bytes, throughput and boot-time percentiles.
 */
export async function bootStorm(stormOptions: StormOptions): Promise<StormReport> {
  const { signal: _s, logger: _l, tftp: _t, ...checked } = stormOptions;
  const parsed = StormSchema.safeParse(checked);
  if (!parsed.success)
    throw new VirtualPiError(
      'INVALID_OPTIONS',
      `invalid boot storm options: ${z.prettifyError(parsed.error)}`,
    );
  if (stormOptions.serials && stormOptions.serials.length < stormOptions.count) {
    throw new VirtualPiError(
      'INVALID_OPTIONS',
      `serials has ${stormOptions.serials.length} entries for count ${stormOptions.count}`,
    );
  }
  const serials = stormOptions.serials
    ? stormOptions.serials.slice(0, stormOptions.count)
    : serialRange(stormOptions.firstSerial ?? 'b0000000', stormOptions.count);
  const t0 = Date.now();
  const runs = serials.map(async (serial, i) => {
    if (stormOptions.staggerMs) await new Promise((r) => setTimeout(r, i * (stormOptions.staggerMs ?? 0)));
    const model = stormOptions.models[i % stormOptions.models.length] as PiModel;
    return bootVirtualPi({
      model,
      serial,
      ...definedOnly({
        dhcp: stormOptions.dhcp,
        tftp: stormOptions.tftp,
        tftpPrefix: stormOptions.tftpPrefix,
        timeoutMs: stormOptions.timeoutMs,
        tftpFileTimeoutMs: stormOptions.tftpFileTimeoutMs,
        signal: stormOptions.signal,
        logger: stormOptions.logger,
      }),
    });
  });
  const reports = await Promise.all(runs);
  const durationMs = Date.now() - t0;
  const byModel: StormReport['byModel'] = {};
  const reasons: Record<string, number> = {};
  let totalBytes = 0;
  for (const r of reports) {
    const m = byModel[r.model] ?? { count: 0, booted: 0 };
    byModel[r.model] = m;
    m.count++;
    if (r.verdict === 'would boot') m.booted++;
    else {
      const key = r.reason ?? 'unknown';
      reasons[key] = (reasons[key] ?? 0) + 1;
    }
    totalBytes += r.totalBytes;
  }
  const times = reports.map((r) => r.durationMs).sort((a, b) => a - b);
  const booted = reports.filter((r) => r.verdict === 'would boot').length;
  return {
    count: reports.length,
    booted,
    failed: reports.length - booted,
    byModel,
    reasons,
    totalBytes,
    durationMs,
    throughputMBps: durationMs > 0 ? totalBytes / 1e6 / (durationMs / 1000) : 0,
    bootMs: {
      min: times[0] ?? 0,
      p50: percentile(times, 50),
      p95: percentile(times, 95),
      max: times[times.length - 1] ?? 0,
    },
    reports,
  };
}
