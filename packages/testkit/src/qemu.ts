import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { execa } from 'execa';
import { createNetNs, type NetNs } from './netns.js';
import { stopProcess } from './process.js';

/** Debian's u-boot-qemu firmware for `qemu-system-aarch64 -M virt`. */
export const UBOOT_QEMU_ARM64 = '/usr/lib/u-boot/qemu_arm64/u-boot.bin';

/**
 * One Ethernet segment inside a fresh namespace: a bridge carrying the server's address and `taps` tap
 * devices for emulated machines (QEMU runs in the same namespace). Addresses 10.253.<subnet>.0/24.
 */
export interface TapLan {
  readonly ns: NetNs;
  readonly bridge: string;
  /** The server's address on the bridge (.1). */
  readonly address: string;
  /** `10.253.<subnet>` (no last octet). */
  readonly prefix: string;
  readonly taps: readonly string[];
  destroy(): Promise<void>;
}

export async function createTapLan(
  tag: string,
  taps: number,
  subnet = Math.floor(Math.random() * 250) + 1,
): Promise<TapLan> {
  const ns = await createNetNs(tag);
  try {
    const ip = async (args: readonly string[]) => {
      await execa('ip', ['-n', ns.name, ...args], { timeout: 20_000 });
    };
    const bridge = 'br0';
    await ip(['link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    const prefix = `10.253.${subnet}`;
    await ip(['addr', 'add', `${prefix}.1/24`, 'dev', bridge]);
    await ip(['link', 'set', bridge, 'up']);
    const names: string[] = [];
    for (let i = 0; i < taps; i++) {
      const name = `tap${randomBytes(3).toString('hex')}`;
      await ip(['tuntap', 'add', 'dev', name, 'mode', 'tap']);
      await ip(['link', 'set', name, 'master', bridge]);
      await ip(['link', 'set', name, 'up']);
      names.push(name);
    }
    return { ns, bridge, address: `${prefix}.1`, prefix, taps: names, destroy: () => ns.destroy() };
  } catch (e) {
    await ns.destroy();
    throw e;
  }
}

export interface QemuVmOptions {
  /** Namespace holding the tap device. */
  ns: NetNs;
  tap: string;
  mac: string;
  /** Serial console copy (appended). */
  logFile?: string;
  memoryMiB?: number;
  smp?: number;
  firmware?: string;
}

/** A `qemu-system-aarch64 -M virt` machine with U-Boot as firmware and its serial console on stdio. */
export interface QemuVm {
  readonly proc: ChildProcess;
  /** Everything the serial console printed so far. */
  console(): string;
  /** Wait until the console (from `from` on) matches; resolves with the match. Bounded by `timeoutMs`. */
  expect(pattern: RegExp, timeoutMs: number, from?: number): Promise<RegExpExecArray>;
  /** Type on the serial console. */
  type(text: string): void;
  stop(): Promise<void>;
}

export function startQemuVm(o: QemuVmOptions): QemuVm {
  const args = [
    ...o.ns.prefix,
    'qemu-system-aarch64',
    '-M',
    'virt',
    '-cpu',
    'cortex-a57',
    '-smp',
    String(o.smp ?? 2),
    '-m',
    String(o.memoryMiB ?? 1024),
    '-bios',
    o.firmware ?? UBOOT_QEMU_ARM64,
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-netdev',
    `tap,id=net0,ifname=${o.tap},script=no,downscript=no`,
    // e1000: U-Boot reads its MAC (its virtio-net driver falls back to a fixed one).
    '-device',
    `e1000,netdev=net0,mac=${o.mac}`,
  ];
  const [cmd, ...rest] = args;
  const proc = spawn(cmd as string, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => {
    const text = b.toString('latin1');
    out += text;
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
    if (o.logFile) appendFileSync(o.logFile, text);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  proc.stdin?.on('error', () => undefined);
  const expect = async (pattern: RegExp, timeoutMs: number, from = 0) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const m = pattern.exec(out.slice(from));
      if (m) return m;
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`qemu exited (${proc.exitCode ?? proc.signalCode}) before ${pattern}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `console did not show ${pattern} within ${timeoutMs} ms; last output:\n${out.slice(-3000)}`,
    );
  };
  return {
    proc,
    console: () => out,
    expect,
    type: (text) => {
      proc.stdin?.write(text);
    },
    stop: () => stopProcess(proc, 5000),
  };
}
