import { createHash } from 'node:crypto';
import { definedOnly } from '@bramble/pi';
import type { Logger } from '@bramble/tftp';
import { type ClientOptions, fetchFile, probeSize, TftpRemoteError, TftpTimeoutError } from '@bramble/tftp';
import { VirtualPiError } from './errors.js';
import type { TftpProfile } from './models/types.js';
import type { BootStep, FetchedFile, StepOutcome } from './report.js';

/** The Pi firmware's abort after a size probe. */
const FIRMWARE_ABORT = { code: 0, message: 'Early terminate' } as const;

export interface TftpTarget {
  host: string;
  port: number;
  localAddress?: string;
}

export type TransferResult =
  | { kind: 'found'; size?: number; data?: Buffer; options: Record<string, string> }
  | { kind: 'missing' }
  | { kind: 'timeout'; detail: string }
  | { kind: 'error'; detail: string };

/**
 * The TFTP side of one virtual Pi: every RRQ it makes, as the given firmware profile makes it, recorded as a
 * BootStep; full reads are also recorded as FetchedFile with size and sha256.
 */
export class TftpRecorder {
  readonly steps: BootStep[] = [];
  readonly files = new Map<string, FetchedFile>();
  totalBytes = 0;
  constructor(
    private readonly target: TftpTarget,
    private readonly ctx: { t0: number; signal?: AbortSignal; logger?: Logger; fileTimeoutMs?: number },
  ) {}

  private timeoutOf(profile: TftpProfile): number {
    return this.ctx.fileTimeoutMs ?? profile.fileTimeoutMs;
  }

  private clientOptions(profile: TftpProfile, signal: AbortSignal): ClientOptions {
    const clientOptions: ClientOptions = { port: this.target.port, retries: profile.retries, signal };
    if (this.target.localAddress) clientOptions.localAddress = this.target.localAddress;
    // No options at all => a plain RFC 1350 RRQ (what the Pi 3 ROM sends for bootcode.bin).
    if (!profile.options) return clientOptions;
    clientOptions.tsize = true; // RFC 2349 §2: tsize=0 in the RRQ
    if (profile.blksize !== undefined) clientOptions.blksize = profile.blksize; // RFC 2348
    return clientOptions;
  }

  private classify(e: unknown, fileSignal: AbortSignal, profile: TftpProfile): TransferResult {
    if (this.ctx.signal?.aborted) throw new VirtualPiError('ABORTED', 'boot aborted', { cause: e });
    if (e instanceof TftpRemoteError) {
      // RFC 1350 §5 error code 1 = "File not found".
      if (e.tftpCode === 1) return { kind: 'missing' };
      return { kind: 'error', detail: `server sent ERROR ${e.tftpCode} '${e.remoteMessage}'` };
    }
    if (fileSignal.aborted) {
      return {
        kind: 'timeout',
        detail: `not complete within ${this.timeoutOf(profile) / 1000} s (TFTP_FILE_TIMEOUT)`,
      };
    }
    if (e instanceof TftpTimeoutError) return { kind: 'timeout', detail: e.message };
    return { kind: 'error', detail: (e as Error).message ?? String(e) };
  }

  private fileSignal(profile: TftpProfile): AbortSignal {
    const t = AbortSignal.timeout(this.timeoutOf(profile));
    return this.ctx.signal ? AbortSignal.any([this.ctx.signal, t]) : t;
  }

  private record(s: Omit<BootStep, 'protocol' | 'atMs'>, startedAt: number): void {
    this.steps.push({ protocol: 'tftp', atMs: startedAt - this.ctx.t0, ...s });
  }

  /**
   * tsize=0 existence probe, answered like the firmware does: ERROR 0 "Early terminate" (RFC 1350 §5
   * error 0 "not defined"; raspberrypi/firmware#1129 and #1605 show code 0 in server logs).
   */
  async probe(path: string, profile: TftpProfile): Promise<TransferResult> {
    if (!profile.options) return this.read(path, profile);
    const started = Date.now();
    const signal = this.fileSignal(profile);
    let r: TransferResult;
    try {
      const res = await probeSize(
        this.target.host,
        path,
        this.clientOptions(profile, signal),
        FIRMWARE_ABORT,
      );
      r = { kind: 'found', ...definedOnly({ size: res.size }), options: res.options };
    } catch (e) {
      r = this.classify(e, signal, profile);
    }
    const outcome: StepOutcome = r.kind === 'found' ? 'probed' : r.kind;
    this.record(
      {
        action: 'probe',
        target: path,
        stage: profile.stage,
        outcome,
        ms: Date.now() - started,
        ...(r.kind === 'found' && r.size !== undefined ? { detail: `tsize ${r.size}` } : {}),
        ...(r.kind === 'found' && r.size === undefined
          ? { detail: 'no tsize in the answer (server sent no OACK)' }
          : {}),
        ...(r.kind === 'timeout' || r.kind === 'error' ? { detail: r.detail } : {}),
      },
      started,
    );
    return r;
  }

  /** A full download, recorded with size, sha256 and time. */
  async read(path: string, profile: TftpProfile): Promise<TransferResult> {
    const started = Date.now();
    const signal = this.fileSignal(profile);
    let r: TransferResult;
    try {
      const { data, stats } = await fetchFile(this.target.host, path, this.clientOptions(profile, signal));
      r = { kind: 'found', size: data.length, data, options: stats.options };
    } catch (e) {
      r = this.classify(e, signal, profile);
    }
    const ms = Date.now() - started;
    this.record(
      {
        action: 'read',
        target: path,
        stage: profile.stage,
        outcome: r.kind === 'found' ? 'ok' : r.kind,
        ms,
        ...(r.kind === 'found' ? { bytes: r.size ?? 0 } : {}),
        ...(r.kind === 'timeout' || r.kind === 'error' ? { detail: r.detail } : {}),
      },
      started,
    );
    if (r.kind === 'found' && r.data) {
      this.totalBytes += r.data.length;
      this.files.set(path, {
        path,
        size: r.data.length,
        sha256: createHash('sha256').update(r.data).digest('hex'),
        ms,
        options: r.options,
      });
    }
    this.ctx.logger?.debug({ file: path, outcome: r.kind, ms }, 'virtual-pi: tftp read');
    return r;
  }
}
