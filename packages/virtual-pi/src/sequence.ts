import { type Cmdline, type ConfigTxt, configIncludes, parseCmdline, parseConfigTxt } from '@bramble/pi';
import { resolveFile } from './boot-files.js';
import { VirtualPiError } from './errors.js';
import type { ModelSpec, TftpProfile, TftpStep } from './models/types.js';
import type { TftpRecorder, TransferResult } from './tftp-steps.js';

/** Thrown by a step when a real Pi would stop here; `State.reason` says why. */
export class Stop extends Error {}

export interface State {
  spec: ModelSpec;
  serial: string;
  prefix: string;
  /** The prefix that was probed and cleared, for "not found under X/ and not in root". */
  clearedPrefix?: string;
  config?: ConfigTxt;
  cmdline?: Cmdline;
  kernel?: string;
  initramfs?: string;
  warnings: string[];
  reason?: string;
}

function where(st: State): string {
  if (st.prefix) return `under ${st.prefix}`;
  if (st.clearedPrefix) return `under ${st.clearedPrefix} and not in root`;
  return 'in the TFTP root';
}

/**
 * Interpret one step of a model's sequence (models/*.ts) against the TFTP server: prefix selection, probes,
 * reads with kernel fallbacks, overlays, config.txt / cmdline.txt parsing.
 */
export async function runStep(step: TftpStep, st: State, tftp: TftpRecorder): Promise<void> {
  const profile: TftpProfile | undefined = st.spec.tftp[step.profile];
  if (!profile)
    throw new VirtualPiError('INTERNAL', `model ${st.spec.model}: no TFTP profile '${step.profile}'`);

  if (step.kind === 'select-prefix') {
    if (!st.prefix) return;
    for (const probe of step.probes) {
      let found = false;
      for (let i = 0; i < (step.repeat ?? 1); i++) {
        const r = await tftp.probe(st.prefix + probe, profile);
        if (r.kind !== 'found') break;
        found = true;
      }
      if (found) return;
    }
    // "If neither start4.elf nor start.elf are found in the prefixed directory then the prefix is cleared."
    st.clearedPrefix = st.prefix;
    st.prefix = '';
    return;
  }

  if (step.kind === 'overlays') {
    for (const name of st.config?.overlays ?? []) {
      const path = `${st.prefix}${st.config?.osPrefix ?? ''}overlays/${name}.dtbo`;
      for (let i = 0; i < (step.reads ?? 1); i++) {
        const r = await tftp.read(path, profile);
        if (r.kind !== 'found') {
          st.warnings.push(
            `dtoverlay=${name}: ${path} ${r.kind === 'missing' ? 'not found' : r.kind} (the firmware skips it)`,
          );
          break;
        }
      }
    }
    return;
  }

  if (step.when === 'arm64' && !(st.config?.arm64 ?? st.spec.files.arm64Default)) return;
  const resolved = resolveFile(step.file, st.spec, st.config, st.kernel);
  if (!resolved) return;
  const need = resolved.need ?? step.need;
  const base = step.root ? '' : st.prefix;
  let last: TransferResult = { kind: 'missing' };
  let hit: string | undefined;
  let data: Buffer | undefined;
  for (const candidate of resolved.candidates) {
    const path = base + candidate;
    last = { kind: 'missing' };
    const probes = need === 'expect-missing' ? 1 : (step.probes ?? 0);
    for (let i = 0; i < probes; i++) {
      last = await tftp.probe(path, profile);
      if (last.kind !== 'found') break;
    }
    if (probes > 0 && last.kind !== 'found') {
      if (last.kind === 'missing') continue;
      break;
    }
    if (need === 'expect-missing') break;
    const reads = step.reads ?? 1;
    for (let i = 0; i < reads; i++) {
      last = await tftp.read(path, profile);
      if (last.kind !== 'found') break;
      data = last.data;
    }
    if (last.kind === 'missing') continue;
    hit = candidate;
    break;
  }
  const label =
    resolved.candidates.length > 1
      ? `${resolved.candidates.join(' / ')}`
      : (resolved.candidates[0] ?? step.file);

  if (need === 'expect-missing') {
    if (last.kind === 'found') {
      st.warnings.push(
        `${base}${label} exists: a real Pi would ${label.startsWith('recover') ? 'run this recovery image instead of booting' : label === 'pieeprom.sig' ? 'try to update its EEPROM from it' : 'check it'}`,
      );
    }
    return;
  }
  if (last.kind === 'timeout' || last.kind === 'error') {
    // start.elf treats a failed transfer as a missing file (firmware#1292): fatal only where the file is needed.
    const what = `${base}${label}: ${last.kind === 'timeout' ? 'timed out' : 'failed'} (${last.detail})`;
    if (need === 'required') {
      st.reason = what;
      throw new Stop();
    }
    st.warnings.push(`${what}; the firmware treats it as missing`);
    return;
  }
  if (hit === undefined) {
    if (need === 'required') {
      st.reason =
        resolved.candidates.length > 1
          ? `no kernel found ${where(st)} (tried ${resolved.candidates.join(', ')})`
          : `${label} not found ${step.root ? 'in the TFTP root' : where(st)}${resolved.why ? ` (${resolved.why})` : ''}`;
      throw new Stop();
    }
    return;
  }
  if (step.file === '{kernel}') st.kernel = hit;
  if (step.file === '{initramfs}') st.initramfs = hit;
  if (
    step.parse === 'config' &&
    data &&
    st.spec.ignoresConfigWithoutOack &&
    last.kind === 'found' &&
    Object.keys(last.options).length === 0
  ) {
    const note = `the TFTP server answered ${base}${label} without an OACK (no RFC 2347 options): ${st.spec.name} firmware silently ignores config.txt then (firmware#1012)`;
    if (!st.warnings.includes(note)) st.warnings.push(note);
    return;
  }
  if (step.parse === 'config' && data) {
    const includes: Record<string, string | undefined> = {};
    const ctx = { filters: st.spec.configFilters, serial: st.serial };
    for (const inc of configIncludes(data.toString('latin1'), ctx)) {
      const r = await tftp.read(base + inc, profile);
      includes[inc] = r.kind === 'found' && r.data ? r.data.toString('latin1') : undefined;
    }
    st.config = parseConfigTxt(data.toString('latin1'), { ...ctx, include: (f) => includes[f] });
  }
  if (step.parse === 'cmdline' && data) st.cmdline = parseCmdline(data.toString('latin1'));
}
