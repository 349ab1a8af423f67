import {
  cmdlineProblems,
  definedOnly,
  macDirName,
  normaliseMac,
  normaliseSerial,
  PiError,
} from '@bramble/pi';
import { runDhcp } from './dhcp-client.js';
import { VirtualPiError } from './errors.js';
import { defaultMac } from './identity.js';
import { modelSpec } from './models/index.js';
import type { ModelSpec } from './models/types.js';
import { chooseInterface } from './network-interface.js';
import { type BootOptions, parseBootOptions } from './options.js';
import type { BootReport, BootStep } from './report.js';
import { runStep, type State, Stop } from './sequence.js';
import { TftpRecorder } from './tftp-steps.js';

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
  if (m === 'mac') return `${macDirName(mac)}/`;
  return m; // TFTP_PREFIX_STR is prepended as-is: include the trailing '/'.
}

/**
 * Boot one virtual Raspberry Pi: the model's DHCP exchange, then its TFTP sequence with real transfers, parsing
 * config.txt and cmdline.txt as the firmware does. Resolves with a report whose verdict says whether a real Pi
 * would boot; rejects only with VirtualPiError (bad options, a local socket it cannot bind, abort).
 */
/** @bramble/pi's INVALID_SERIAL / INVALID_MAC, as this package's one error class (same code and message). */
function asVirtualPiError<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof PiError && (error.code === 'INVALID_SERIAL' || error.code === 'INVALID_MAC')) {
      throw new VirtualPiError(error.code, error.message, { cause: error });
    }
    throw error;
  }
}

export async function bootVirtualPi(options: BootOptions): Promise<BootReport> {
  const bootOptions = parseBootOptions(options);
  const spec = modelSpec(bootOptions.model);
  const serial = asVirtualPiError(() => normaliseSerial(bootOptions.serial));
  const mac = bootOptions.mac
    ? asVirtualPiError(() => normaliseMac(bootOptions.mac ?? ''))
    : defaultMac(spec.oui, serial);
  const prefix = tftpPrefixFor(spec, bootOptions.tftpPrefix, serial, mac);
  const logger = bootOptions.logger?.child({ virtualPi: bootOptions.model, serial });
  const t0 = Date.now();
  const limit = AbortSignal.timeout(bootOptions.timeoutMs ?? 120_000);
  const signal = bootOptions.signal ? AbortSignal.any([bootOptions.signal, limit]) : limit;
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
  const ctx = { t0, signal, ...definedOnly({ logger }) };
  try {
    let host = bootOptions.tftp?.host;
    let tftpLocalAddress = bootOptions.tftp?.localAddress;
    if (bootOptions.dhcp) {
      const {
        server,
        port,
        clientPort,
        localAddress,
        attempts,
        retryIntervalMs,
        offerWaitMs,
        broadcastFlag,
        restarts,
      } = bootOptions.dhcp;
      const nic =
        bootOptions.dhcp.interface === undefined ? undefined : chooseInterface(bootOptions.dhcp.interface);
      // TFTP leaves from the same interface as the DHCP broadcasts did (as on a real Pi).
      tftpLocalAddress ??= nic?.address;
      const d = await runDhcp(
        spec.dhcp,
        { serial, mac },
        {
          server,
          ...definedOnly({
            port,
            clientPort,
            localAddress,
            attempts,
            retryIntervalMs,
            offerWaitMs,
            broadcastFlag,
            restarts,
            sendAddress: nic?.address,
            interfaceName: nic?.name,
          }),
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
      port: bootOptions.tftp?.port ?? 69,
      ...definedOnly({ localAddress: tftpLocalAddress }),
    };
    report.tftp = { host: target.host, port: target.port };
    recorder = new TftpRecorder(target, {
      ...ctx,
      ...definedOnly({ fileTimeoutMs: bootOptions.tftpFileTimeoutMs }),
    });
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
    if (
      e instanceof VirtualPiError &&
      e.code === 'ABORTED' &&
      !bootOptions.signal?.aborted &&
      limit.aborted
    ) {
      st.reason = `boot did not finish within ${bootOptions.timeoutMs ?? 120_000} ms`;
      return finish();
    }
    if (e instanceof VirtualPiError) throw e;
    throw new VirtualPiError('INTERNAL', `virtual Pi failed: ${(e as Error).message}`, { cause: e });
  }
}
