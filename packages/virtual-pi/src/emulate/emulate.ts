import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename, delimiter, join } from 'node:path';
import { macDirName, normaliseMac } from '@bramble/pi';
import { z } from 'zod';
import { VirtualPiError } from '../errors.js';
import { defaultMac } from '../identity.js';
import { modelSpec } from '../models/index.js';
import type { PiModel } from '../models/types.js';
import { ConsoleWatch, type EmulationEvent } from './console-watch.js';
import { checkKernelFile, type KernelCheck, requireVirtKernel } from './kernel-check.js';
import { attachToBridge, type EmulatorAttachment, NETDEV_NAME, NETNS_NAME } from './network.js';
import { type NodeBootFiles, nodeBootFiles } from './node-files.js';

/** Debian's u-boot-qemu firmware for `qemu-system-aarch64 -M virt`. */
export const UBOOT_QEMU_ARM64 = '/usr/lib/u-boot/qemu_arm64/u-boot.bin';
/** The U-Boot script Bramble writes at the TFTP root for MAC-named nodes (@bramble/boot-tree UBOOT_SCRIPT_NAME). */
const UBOOT_SCRIPT = 'boot.scr.uimg';
/** What that script loads from the node's directory. */
const UBOOT_KERNEL = 'kernel8.img';

export const EmulateOptionsSchema = z.object({
  /** The TFTP root Bramble serves (holds boot.scr.uimg and the node directories). */
  tftpRoot: z.string().min(1),
  /** The node's directory under it (`dc-a6-32-01-02-03` or `7a1b2c3d`: @bramble/pi tftpDirName). */
  dirName: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  /** Checked by modelSpec(): picks config.txt's section filters and the default kernel name. */
  model: z.string().min(1).max(32),
  serial: z.string().min(1).max(18).optional(),
  /** The node's MAC (the emulated network card gets it); default: the model's OUI + the serial's tail. */
  mac: z.string().optional(),
  /** Expected on the login prompt (`<hostname> login:`); another name fails the boot. */
  hostname: z.string().min(1).max(63).optional(),
  /** 'auto' (default): U-Boot over the network for MAC-named nodes, direct kernel boot otherwise. */
  boot: z.enum(['auto', 'uboot', 'kernel']).optional(),
  /** Existing bridge on the boot LAN. */
  bridge: z.string().regex(NETDEV_NAME),
  /** Network namespace holding the bridge (root only). */
  netns: z.string().regex(NETNS_NAME).optional(),
  /** From QEMU start to the login prompt (default 10 min: TCG emulation is slow). */
  timeoutMs: z
    .number()
    .int()
    .min(1000)
    .max(6 * 3_600_000)
    .optional(),
  memoryMiB: z.number().int().min(256).max(16384).optional(),
  smp: z.number().int().min(1).max(8).optional(),
  /** U-Boot firmware (default Debian's u-boot-qemu). */
  firmware: z.string().min(1).optional(),
  /** QEMU binary (default qemu-system-aarch64 from PATH). */
  qemu: z.string().min(1).optional(),
  /** Append a copy of the serial console here. */
  consoleLog: z.string().min(1).optional(),
});

export type EmulateOptions = z.input<typeof EmulateOptionsSchema> & {
  model: PiModel | string;
  /** Each milestone as the console shows it. */
  onEvent?: (event: EmulationEvent) => void;
  /** Raw serial console output. */
  onConsole?: (text: string) => void;
  /** Abort: the VM and its tap are removed; the report's verdict is 'aborted'. */
  signal?: AbortSignal;
};

export type EmulationVerdict = 'login' | 'wrong-hostname' | 'panic' | 'timeout' | 'exited' | 'aborted';

export interface EmulationReport {
  node: string;
  hostname?: string;
  /** 'uboot': U-Boot → DHCP → TFTP from the server (the real LAN path); 'kernel': QEMU loads the tree's files. */
  mode: 'uboot' | 'kernel';
  modeWhy: string;
  mac: string;
  network: string;
  kernel: KernelCheck;
  files: { kernel: string; initramfs?: string; cmdline?: string };
  /** The kernel command line the VM boots with ('kernel' mode; in 'uboot' mode cmdline.txt as served). */
  bootargs?: string;
  /** What the emulation changed or could not see, in words. */
  notes: string[];
  events: EmulationEvent[];
  verdict: EmulationVerdict;
  /** Why it did not reach the login prompt. */
  reason?: string;
  /** Power-on to login prompt. */
  loginAfterMs?: number;
  elapsedMs: number;
  /** The console's last 3000 characters when the verdict is not 'login'. */
  consoleTail?: string;
}

/** A running emulation: `result` settles at the login prompt (or failure); `stop()` ends it. */
export interface Emulation {
  readonly result: Promise<EmulationReport>;
  /** Settles when QEMU has exited (for whatever reason). */
  readonly exited: Promise<void>;
  console(): string;
  /** Stop QEMU (SIGTERM, then SIGKILL) and remove the tap. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Check the node's kernel, then boot its tree in `qemu-system-aarch64 -M virt` on the given bridge.
 * Throws (before starting anything) KERNEL_NOT_FOUND, KERNEL_NOT_ARM64, KERNEL_PI_ONLY, EMULATOR_MISSING,
 * NETWORK_SETUP, INVALID_OPTIONS. After login the VM keeps running until `stop()`; on any failure it is
 * stopped and its tap removed before `result` settles.
 */
export async function startEmulation(options: EmulateOptions): Promise<Emulation> {
  const parsed = EmulateOptionsSchema.safeParse(options);
  if (!parsed.success)
    throw new VirtualPiError(
      'INVALID_OPTIONS',
      `emulate: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const config = parsed.data;
  const spec = modelSpec(config.model);
  const dir = join(config.tftpRoot, config.dirName);
  const files = await nodeBootFiles({
    dir,
    model: config.model as PiModel,
    ...(config.serial ? { serial: config.serial } : {}),
  });
  const kernel = requireVirtKernel(await checkKernelFile(files.kernel));
  const mac = nodeMac(config.mac, config.serial, spec.oui);
  const { mode, why } = await chooseMode(config, files, mac);
  const qemu = await findQemu(config.qemu ?? 'qemu-system-aarch64');
  const firmware = config.firmware ?? UBOOT_QEMU_ARM64;
  if (mode === 'uboot' && !(await readable(firmware)))
    throw new VirtualPiError('EMULATOR_MISSING', `${firmware} missing: install Debian's u-boot-qemu`);
  const attachment = await attachToBridge({
    bridge: config.bridge,
    ...(config.netns ? { netns: config.netns } : {}),
    root: process.getuid?.() === 0,
  });
  const { bootargs, notes } = serialConsole(files.cmdline ?? '', mode);
  const args = qemuArgs({ config, mode, files, kernel, mac, firmware, attachment, bootargs });
  const base = {
    node: config.dirName,
    ...(config.hostname ? { hostname: config.hostname } : {}),
    mode,
    modeWhy: why,
    mac,
    network: attachment.describe,
    kernel,
    files: {
      kernel: files.kernel,
      ...(files.initramfs ? { initramfs: files.initramfs } : {}),
      ...(files.cmdline !== undefined ? { cmdline: files.cmdline } : {}),
    },
    bootargs,
    notes,
  };
  return runMachine([...attachment.prefix, qemu, ...args], attachment, config, options, base);
}

/** startEmulation, wait for the login prompt (or failure), stop, report. */
export async function emulateNode(options: EmulateOptions): Promise<EmulationReport> {
  const emulation = await startEmulation(options);
  try {
    return await emulation.result;
  } finally {
    await emulation.stop();
  }
}

function nodeMac(mac: string | undefined, serial: string | undefined, oui: string): string {
  try {
    if (mac) return normaliseMac(mac);
    if (serial) return defaultMac(oui, serial);
  } catch (error) {
    throw new VirtualPiError('INVALID_MAC', (error as Error).message, { cause: error });
  }
  throw new VirtualPiError('INVALID_OPTIONS', 'emulate: a node needs a mac or a serial');
}

async function chooseMode(
  config: z.output<typeof EmulateOptionsSchema>,
  files: NodeBootFiles,
  mac: string,
): Promise<{ mode: 'uboot' | 'kernel'; why: string }> {
  const requested = config.boot ?? 'auto';
  if (requested === 'kernel')
    return { mode: 'kernel', why: 'asked for: QEMU loads kernel, initramfs and cmdline.txt from the tree' };
  const byMac = config.dirName === macDirName(mac);
  const script = await readable(join(config.tftpRoot, UBOOT_SCRIPT));
  const kernelName = basename(files.kernel);
  const problem = !byMac
    ? `the node's directory ${config.dirName} is named by serial, which U-Boot cannot present (it asks by MAC)`
    : !script
      ? `${UBOOT_SCRIPT} is missing from the TFTP root`
      : kernelName !== UBOOT_KERNEL
        ? `config.txt boots ${kernelName}, Bramble's U-Boot script loads ${UBOOT_KERNEL}`
        : undefined;
  if (!problem)
    return {
      mode: 'uboot',
      why: `U-Boot → DHCP → ${UBOOT_SCRIPT}, kernel, initramfs and cmdline.txt over TFTP from the server`,
    };
  if (requested === 'uboot')
    throw new VirtualPiError('INVALID_OPTIONS', `cannot boot through U-Boot: ${problem}`);
  return {
    mode: 'kernel',
    why: `${problem}: QEMU loads kernel, initramfs and cmdline.txt from the tree; DHCP and the NFS root go over the LAN`,
  };
}

/**
 * The Pi firmware rewrites `console=serial0` to the board's UART device before starting the kernel
 * (raspberrypi/documentation configuration/uart.adoc, "serial0"); on -M virt that UART is the PL011,
 * ttyAMA0. Direct kernel boot does the same and makes ttyAMA0 the last console= (added when missing), or
 * the login prompt would never reach the serial line. Through U-Boot cmdline.txt goes as served.
 */
function serialConsole(cmdline: string, mode: 'uboot' | 'kernel'): { bootargs: string; notes: string[] } {
  const onPl011 = (args: string) => /(^|\s)console=ttyAMA0(,|\s|$)/.test(args);
  if (mode === 'uboot') {
    const notes = onPl011(cmdline)
      ? []
      : [
          'cmdline.txt has no console=ttyAMA0 and U-Boot passes it as is: the kernel and login prompt will not show on the serial console (--boot kernel maps console=serial0 to ttyAMA0 as the Pi firmware does)',
        ];
    return { bootargs: cmdline, notes };
  }
  const notes: string[] = [];
  const mapped = cmdline.replace(/(^|\s)console=serial0(?=,|\s|$)/g, '$1console=ttyAMA0');
  if (mapped !== cmdline)
    notes.push('console=serial0 → console=ttyAMA0 (as the Pi firmware maps serial0 to its UART)');
  // The last console= is /dev/console: initramfs and systemd output and the getty the login prompt comes from.
  const words = mapped.split(/\s+/).filter(Boolean);
  const pl011 = words.filter((word) => /^console=ttyAMA0(,|$)/.test(word)).at(-1);
  const others = words.filter((word) => !/^console=ttyAMA0(,|$)/.test(word));
  const bootargs = [...others, pl011 ?? 'console=ttyAMA0,115200'].join(' ');
  if (!pl011)
    notes.push('console=ttyAMA0,115200 added: the serial console is how the emulation sees the boot');
  else if (words.at(-1) !== pl011) notes.push(`${pl011} moved last: /dev/console is the serial line`);
  return { bootargs, notes };
}

function qemuArgs(input: {
  config: z.output<typeof EmulateOptionsSchema>;
  mode: 'uboot' | 'kernel';
  files: NodeBootFiles;
  kernel: KernelCheck;
  mac: string;
  firmware: string;
  attachment: EmulatorAttachment;
  bootargs: string;
}): string[] {
  const { config, files } = input;
  const boot =
    input.mode === 'uboot'
      ? ['-bios', input.firmware]
      : [
          '-kernel',
          files.kernel,
          ...(files.initramfs ? ['-initrd', files.initramfs] : []),
          '-append',
          input.bootargs,
        ];
  return [
    '-M',
    'virt',
    // Cortex-A57 has no 16K translation granule (Pi 5 kernels use 16K pages): 'max' has every granule.
    '-cpu',
    input.kernel.pageSizeKiB === 16 ? 'max' : 'cortex-a57',
    '-smp',
    String(config.smp ?? 2),
    '-m',
    String(config.memoryMiB ?? 1024),
    ...boot,
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-netdev',
    input.attachment.netdev,
    // e1000: U-Boot reads its MAC from it (its virtio-net driver falls back to a fixed one).
    '-device',
    `e1000,netdev=net0,mac=${input.mac}`,
  ];
}

function runMachine(
  argv: string[],
  attachment: EmulatorAttachment,
  config: z.output<typeof EmulateOptionsSchema>,
  options: EmulateOptions,
  base: Omit<EmulationReport, 'events' | 'verdict' | 'elapsedMs'>,
): Emulation {
  const startedAt = Date.now();
  const watch = new ConsoleWatch(options.onEvent);
  let consoleLog = config.consoleLog;
  const [command, ...rest] = argv;
  const proc: ChildProcess = spawn(command as string, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.once('error', () => resolve());
  });
  let settle: (report: EmulationReport) => void = () => undefined;
  const result = new Promise<EmulationReport>((resolve) => {
    settle = resolve;
  });
  let done = false;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      await stopProcess(proc);
      await attachment.release();
    })();
    return stopping;
  };
  const finish = (verdict: EmulationVerdict, reason?: string) => {
    if (done) return;
    done = true;
    const login = watch.first('login');
    const report: EmulationReport = {
      ...base,
      events: watch.events,
      verdict,
      ...(reason ? { reason } : {}),
      ...(verdict === 'login' && login ? { loginAfterMs: login.atMs } : {}),
      elapsedMs: Date.now() - startedAt,
      ...(verdict !== 'login' ? { consoleTail: watch.console().slice(-3000) } : {}),
    };
    if (verdict === 'login') settle(report);
    else void stop().then(() => settle(report));
  };
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('latin1');
    if (consoleLog) {
      try {
        appendFileSync(consoleLog, text);
      } catch (error) {
        base.notes.push(`console log ${consoleLog} stopped: ${(error as Error).message}`);
        consoleLog = undefined;
      }
    }
    options.onConsole?.(text);
    watch.feed(text, Date.now() - startedAt);
    const panic = watch.first('panic');
    if (panic) return finish('panic', panic.text);
    const login = watch.first('login');
    if (login) {
      if (config.hostname && login.value !== config.hostname)
        return finish('wrong-hostname', `the login prompt says ${login.value}, expected ${config.hostname}`);
      finish('login');
    }
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  proc.on('error', (error) => finish('exited', `cannot run ${command}: ${error.message}`));
  proc.on('exit', (code, signal) =>
    finish('exited', `QEMU exited (${code ?? signal}) before the login prompt`),
  );
  const timeoutMs = config.timeoutMs ?? 10 * 60_000;
  const timer = setTimeout(() => {
    const last = watch.events.at(-1);
    const tail = watch.console().slice(-2000);
    const hint = /IP-Config: no response/.test(tail)
      ? ': the initramfs gets no DHCP answer'
      : /BOOTP broadcast \d+\s*$/.test(tail) || /Retry count exceeded/.test(tail)
        ? ': U-Boot gets no DHCP/TFTP answer'
        : '';
    finish(
      'timeout',
      `no login prompt within ${Math.round(timeoutMs / 1000)} s (last milestone: ${last ? last.text : 'none: nothing recognised on the serial console'})${hint}`,
    );
  }, timeoutMs);
  const onAbort = () => finish('aborted', 'stopped by the user');
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  return { result, exited, console: () => watch.console(), stop };
}

async function stopProcess(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const kill = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(kill);
}

async function findQemu(name: string): Promise<string> {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((entry) => join(entry, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new VirtualPiError('EMULATOR_MISSING', `${name} not found: install Debian's qemu-system-arm`);
}

async function readable(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
