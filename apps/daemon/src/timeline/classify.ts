/**
 * Pure judgements of the boot timeline: how a TFTP transfer ended for the firmware (probe, expected
 * missing, missing), whether an event starts a new boot, and what state a boot is in — with the
 * failure in plain words.
 */
import type { FirmwareFileRoles } from '@bramble/virtual-pi';
import type { BootFailure, BootRecord, BootState, BootView, FailureStage, FileResult } from './types.js';

export interface TransferEnd {
  outcome: 'complete' | 'aborted' | 'failed';
  /** Negotiated options; a tsize probe carries `tsize`. */
  options?: Record<string, string>;
  blocks?: number;
  /** The error's stable code (`NOT_FOUND` for a missing file). */
  errorCode?: string;
}

/** What the end of one transfer of `file` (path below the prefix) means for the boot. */
export function fileResult(file: string, end: TransferEnd, roles: FirmwareFileRoles): FileResult {
  if (end.outcome === 'complete') return 'complete';
  if (end.outcome === 'aborted')
    return end.options?.tsize !== undefined || end.blocks === 0 ? 'probe' : 'aborted';
  if (end.errorCode === 'NOT_FOUND') {
    const name = baseName(file);
    if (roles.expectMissing.has(name)) return 'expected-missing';
    if (roles.optional.has(name) || roles.optional.has(file) || roles.initramfs.has(name))
      return 'optional-missing';
    if (file.startsWith('overlays/')) return 'optional-missing';
    return 'missing';
  }
  return 'failed';
}

export const baseName = (file: string): string => file.slice(file.lastIndexOf('/') + 1);

/** The longest file name kept (TFTP names come from the network). */
export const FILE_NAME_LIMIT = 256;

/**
 * A requested file name as it is stored and shown: control characters (terminal escapes in
 * `bramble logs`) replaced by `?`, cut to FILE_NAME_LIMIT characters.
 */
export function safeFileName(file: string): string {
  const clean = file.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > FILE_NAME_LIMIT ? `${clean.slice(0, FILE_NAME_LIMIT - 1)}…` : clean;
}

export interface BootRules {
  /** Quiet time after which a boot that has not reached its kernel counts as stalled. */
  stallMs: number;
  /** Quiet time after which a boot-start file (bootcode.bin, start4.elf, config.txt) begins a new boot. */
  quietGapMs: number;
  roles: FirmwareFileRoles;
}

/** Does a DHCP DISCOVER at `now` begin a new boot, given the node's current one? */
export function discoverStartsBoot(current: BootRecord | undefined, now: number, rules: BootRules): boolean {
  if (!current) return true;
  // DISCOVER retries of a boot that has not reached TFTP yet belong to it.
  if (current.files.length === 0 && now - current.lastEventAt <= rules.quietGapMs) return false;
  return true;
}

/** Does a TFTP read request for `file` at `now` begin a new boot? */
export function requestStartsBoot(
  current: BootRecord | undefined,
  file: string,
  now: number,
  rules: BootRules,
): boolean {
  if (!current) return true;
  const quiet = now - current.lastEventAt;
  if (quiet > rules.quietGapMs) return true;
  const isStart = rules.roles.bootStart.has(file);
  // A DHCP-only boot continues into its first TFTP request; a boot past its kernel (or stalled) restarts on a
  // start file.
  return isStart && (current.handoverAt !== undefined || quiet > rules.stallMs);
}

function stageOf(boot: BootRecord, roles: FirmwareFileRoles): FailureStage {
  if (boot.files.length === 0) return 'dhcp';
  const names = boot.files.map((f) => baseName(f.file));
  if (names.some((n) => roles.kernels.has(n))) return 'kernel';
  const firmwareDone = boot.files.some(
    (f) => roles.firmware.has(baseName(f.file)) && f.result === 'complete',
  );
  return firmwareDone ? 'firmware' : 'bootloader';
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** Why a boot that went quiet before its kernel stopped, in plain words. */
export function failureOf(boot: BootRecord, rules: BootRules): BootFailure {
  const stage = stageOf(boot, rules.roles);
  if (boot.files.length === 0) {
    const offered = boot.dhcp.some((d) => d.kind === 'offer');
    return {
      stage,
      reason: offered
        ? 'DHCP offers but no TFTP request — check option 43 / STP on the switch port'
        : 'asked for a network boot but got no DHCP offer',
    };
  }
  const missing = boot.files.find((f) => f.result === 'missing');
  if (missing) return { stage, reason: `asked for a file that is missing: ${missing.file}` };
  const last = boot.files[boot.files.length - 1];
  if (last && (last.result === 'failed' || last.result === 'aborted'))
    return { stage, reason: `${last.file} ${last.result}${last.error ? `: ${last.error}` : ''}` };
  if (last?.result === 'in-progress')
    return {
      stage,
      reason: `stalled while sending ${last.file} (no end after ${seconds(IN_FLIGHT_LIMIT_MS)})`,
    };
  const lastGood = [...boot.files].reverse().find((f) => f.result === 'complete') ?? last;
  return {
    stage,
    reason: `stalled after ${lastGood?.file ?? 'the first request'} (no request for ${seconds(rules.stallMs)})`,
  };
}

/**
 * How long a boot may stay quiet. A transfer in flight is judged by the TFTP server, whose own
 * timeouts end it as failed; only if that end never arrives does the boot count as stalled.
 */
export function stallLimit(boot: BootRecord, rules: BootRules): number {
  const sending = boot.files.some((f) => f.result === 'in-progress');
  return sending ? Math.max(rules.stallMs, IN_FLIGHT_LIMIT_MS) : rules.stallMs;
}

/** The longest a transfer in flight is trusted to end by itself (a large kernel on a slow link). */
export const IN_FLIGHT_LIMIT_MS = 300_000;

/** The state of a boot at `now`: up once the kernel was handed over, failed when it went quiet before. */
export function judgeBoot(boot: BootRecord, now: number, rules: BootRules): BootView {
  let state: BootState = 'booting';
  let failure: BootFailure | undefined;
  if (boot.handoverAt !== undefined) state = 'up';
  else if (now - boot.lastEventAt > stallLimit(boot, rules)) {
    state = 'failed';
    failure = failureOf(boot, rules);
  }
  const end = boot.handoverAt ?? (state === 'failed' ? boot.lastEventAt : now);
  return {
    ...boot,
    dhcp: [...boot.dhcp],
    files: boot.files.map((f) => ({ ...f })),
    state,
    durationMs: Math.max(0, end - boot.startedAt),
    ...(failure ? { failure } : {}),
  };
}
