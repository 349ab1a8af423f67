import { resolveFile } from './boot-files.js';
import { type Cmdline, cmdlineProblems, parseCmdline } from './cmdline.js';
import { type ConfigTxt, configIncludes, parseConfigTxt } from './config-txt.js';
import { runDhcp } from './dhcp-client.js';
import { VirtualPiError } from './errors.js';
import { defaultMac, macPrefix, normaliseMac, normaliseSerial } from './identity.js';
import { modelSpec } from './models/index.js';
import type { ModelSpec, TftpProfile, TftpStep } from './models/types.js';
import { type BootOptions, parseBootOptions } from './options.js';
import type { BootReport, BootStep } from './report.js';
import { TftpRecorder, type TransferResult } from './tftp-steps.js';

export type { BootOptions } from './options.js';

/** The prefix string the firmware prepends, '' for none. */
export function tftpPrefixFor(
  spec: ModelSpec,
  mode: string | undefined,
  serial: string,
  mac: string,
): string {
  const m = mode ?? 'serial';
  if (m === 'none' || m === '') return '';
  if (m === 'serial') return `${serial}/`;
  if (!spec.prefixModes.includes(m === 'mac' ? 'mac' : 'custom')) {
    throw new VirtualPiError(
      'INVALID_OPTIONS',
      `${spec.name} only uses the serial as TFTP prefix (no TFTP_PREFIX setting)`,
    );
  }
  if (m === 'mac') return `${macPrefix(mac)}/`;
  return m; // TFTP_PREFIX_STR is prepended as-is: include the trailing '/'.
}

class Stop extends Error {}

interface State {
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

async function runStep(step: TftpStep, st: State, tftp: TftpRecorder): Promise<void> {
  const profile: TftpProfile | undefined = st.spec.tftp[step.profile];
  if (!profile) throw new Error(`model ${st.spec.model}: no TFTP profile '${step.profile}'`);

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

/**
 * Boot one virtual Raspberry Pi: the model's DHCP exchange, then its TFTP sequence with real transfers, parsing
 * config.txt and cmdline.txt as the firmware does. Resolves with a report whose verdict says whether a real Pi
 * would boot; rejects only with VirtualPiError (bad options, a local socket it cannot bind, abort).
 */
export async function bootVirtualPi(options: BootOptions): Promise<BootReport> {
  const o = parseBootOptions(options);
  const spec = modelSpec(o.model);
  const serial = normaliseSerial(o.serial);
  const mac = o.mac ? normaliseMac(o.mac) : defaultMac(spec.oui, serial);
  const prefix = tftpPrefixFor(spec, o.tftpPrefix, serial, mac);
  const logger = o.logger?.child({ virtualPi: o.model, serial });
  const t0 = Date.now();
  const limit = AbortSignal.timeout(o.timeoutMs ?? 120_000);
  const signal = o.signal ? AbortSignal.any([o.signal, limit]) : limit;
  const report: BootReport = {
    model: spec.model,
    serial,
    mac,
    steps: [],
    files: [],
    verdict: 'would not boot',
    warnings: [],
    totalBytes: 0,
    durationMs: 0,
  };
  const st: State = { spec, serial, prefix, warnings: report.warnings };
  const dhcpSteps: BootStep[] = [];
  let recorder: TftpRecorder | undefined;
  const finish = (): BootReport => {
    report.steps = [...dhcpSteps, ...(recorder?.steps ?? [])];
    report.files = recorder ? [...recorder.files.values()] : [];
    report.totalBytes = recorder?.totalBytes ?? 0;
    report.durationMs = Date.now() - t0;
    if (st.reason) report.reason = st.reason;
    logger?.info(
      { verdict: report.verdict, reason: report.reason, ms: report.durationMs },
      'virtual-pi: boot finished',
    );
    return report;
  };
  const ctx = { t0, signal, ...(logger ? { logger } : {}) };
  try {
    let host = o.tftp?.host;
    if (o.dhcp) {
      const { server, port, clientPort, localAddress, attempts, retryIntervalMs, offerWaitMs } = o.dhcp;
      const d = await runDhcp(
        spec.dhcp,
        { serial, mac },
        {
          server,
          ...(port !== undefined ? { port } : {}),
          ...(clientPort !== undefined ? { clientPort } : {}),
          ...(localAddress !== undefined ? { localAddress } : {}),
          ...(attempts !== undefined ? { attempts } : {}),
          ...(retryIntervalMs !== undefined ? { retryIntervalMs } : {}),
          ...(offerWaitMs !== undefined ? { offerWaitMs } : {}),
        },
        ctx,
      );
      dhcpSteps.push(...d.steps);
      report.dhcp = d.summary;
      report.warnings.push(...d.warnings);
      if (!d.ok) {
        st.reason = d.reason ?? 'DHCP failed';
        return finish();
      }
      if (host) {
        report.dhcp.tftpServer = host;
        report.dhcp.tftpServerFrom = 'configured';
      }
      host ??= d.summary.tftpServer;
    }
    if (!host) {
      st.reason = 'no TFTP server: DHCP named none and none was configured';
      return finish();
    }
    const target = {
      host,
      port: o.tftp?.port ?? 69,
      ...(o.tftp?.localAddress ? { localAddress: o.tftp.localAddress } : {}),
    };
    report.tftp = { host: target.host, port: target.port };
    recorder = new TftpRecorder(target, ctx);
    for (const step of spec.sequence) await runStep(step, st, recorder);
    report.prefix = st.prefix;
    if (st.kernel) report.kernel = st.prefix + st.kernel;
    if (st.initramfs) report.initramfs = st.prefix + st.initramfs;
    for (const n of st.config?.notes ?? []) report.warnings.push(n);
    const c = st.cmdline;
    if (!c) {
      st.reason = 'cmdline.txt was not read';
      return finish();
    }
    report.cmdline = c.line;
    const problems = cmdlineProblems(c, { initramfs: st.initramfs !== undefined });
    report.warnings.push(...problems.warnings);
    const [fatal] = problems.fatal;
    if (fatal) {
      st.reason = fatal;
      return finish();
    }
    if (c.nfsroot) {
      const server = c.nfsroot.server ?? target.host;
      if (!c.nfsroot.server)
        report.warnings.push(
          `nfsroot= names no server; the kernel would use the DHCP server (${server} assumed)`,
        );
      report.nfsRoot = { server, path: c.nfsroot.path, version: c.nfsroot.version };
    }
    report.verdict = 'would boot';
    return finish();
  } catch (e) {
    if (e instanceof Stop) {
      report.prefix = st.prefix;
      return finish();
    }
    if (e instanceof VirtualPiError && e.code === 'ABORTED' && !o.signal?.aborted && limit.aborted) {
      st.reason = `boot did not finish within ${o.timeoutMs ?? 120_000} ms`;
      return finish();
    }
    if (e instanceof VirtualPiError) throw e;
    throw new VirtualPiError('INTERNAL', `virtual Pi failed: ${(e as Error).message}`, { cause: e });
  }
}
