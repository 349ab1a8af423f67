import type { LoadedManifest } from '@bramble/manifest';
import { definedOnly, tftpDirName } from '@bramble/pi';
import type { GlobalOptions } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';
import type { Output } from '../../output.js';
import { loadVirtualPi } from '../../packages.js';

export interface EmulateFlags {
  bridge?: string;
  netns?: string;
  boot?: 'auto' | 'uboot' | 'kernel';
  timeout?: number;
  memory?: number;
  console?: boolean;
  consoleLog?: string;
  keepRunning?: boolean;
}

/** Emulation error codes meaning "this node cannot be emulated as asked" (exit 2), not "it failed to boot". */
const CANNOT_EMULATE = new Set([
  'KERNEL_PI_ONLY',
  'KERNEL_NOT_ARM64',
  'KERNEL_NOT_FOUND',
  'EMULATOR_MISSING',
  'INVALID_OPTIONS',
  'INVALID_MAC',
  'UNKNOWN_MODEL',
]);

/**
 * `doctor --emulate NODE`: boot the node's real tree in QEMU -M virt on the boot LAN (composition only: the
 * kernel check, mode choice, tap and milestones are @bramble/virtual-pi's emulate module).
 * Exit 0 at the node's login prompt, 1 when it did not get there, 2 when it cannot be emulated.
 */
export async function emulateBoot(
  globalOptions: GlobalOptions,
  out: Output,
  manifest: LoadedManifest,
  hostname: string,
  flags: EmulateFlags,
): Promise<void> {
  const node = manifest.manifest.nodes.find((entry) => entry.hostname === hostname);
  if (!node) throw new CliError('NOT_FOUND', `no node '${hostname}' in ${globalOptions.config}`, 2);
  if (!flags.bridge)
    throw new UsageError(
      '--emulate needs --bridge BR: the bridge of the boot LAN (with --netns NS: in that namespace)',
    );
  const virtualPi = await loadVirtualPi();
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let emulation: Awaited<ReturnType<typeof virtualPi.startEmulation>> | undefined;
  try {
    try {
      emulation = await virtualPi.startEmulation({
        tftpRoot: manifest.tftpRoot,
        dirName: tftpDirName(node),
        // A node without a model boots with the Pi 4's config.txt filters and kernel default (as --simulate).
        model: node.model ?? 'pi4',
        hostname: node.hostname,
        bridge: flags.bridge,
        ...definedOnly({
          serial: node.serial,
          mac: node.mac,
          netns: flags.netns,
          boot: flags.boot,
          timeoutMs: flags.timeout,
          memoryMiB: flags.memory,
          consoleLog: flags.consoleLog,
        }),
        signal: abort.signal,
        onEvent: (event) => {
          if (!globalOptions.json) out.note(`${(event.atMs / 1000).toFixed(1).padStart(7)} s  ${event.text}`);
        },
        ...(flags.console ? { onConsole: (text: string) => process.stderr.write(text) } : {}),
      });
    } catch (error) {
      if (error instanceof virtualPi.VirtualPiError && CANNOT_EMULATE.has(error.code))
        throw new CliError(error.code, `[${error.code}] ${error.message}`, 2, { cause: error });
      throw error;
    }
    const report = await emulation.result;
    if (globalOptions.json) out.data(report);
    else out.raw(virtualPi.formatEmulationReport(report));
    if (report.verdict !== 'login') {
      process.exitCode = 1;
      return;
    }
    if (flags.keepRunning && !abort.signal.aborted) {
      out.note(`${hostname} keeps running (${report.network}); Ctrl-C stops it and removes the tap`);
      const stopped = new Promise<void>((resolve) =>
        abort.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      await Promise.race([stopped, emulation.exited]);
      if (!abort.signal.aborted) {
        out.warn(`${hostname}: QEMU exited while it was kept running`);
        process.exitCode = 1;
      }
    }
  } finally {
    await emulation?.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
