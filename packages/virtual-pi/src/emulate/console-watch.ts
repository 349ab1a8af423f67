/**
 * What an emulated node's serial console says, as boot milestones. Patterns are U-Boot's (net/tftp.c,
 * cmd/net.c), Linux's (init/main.c "Run /init", kernel/panic.c), initramfs-tools' nfs script and
 * systemd/agetty's; each is matched once, in console order.
 */

export type EmulationEventKind =
  | 'firmware'
  | 'dhcp'
  | 'tftp-file'
  | 'tftp-error'
  | 'bootargs'
  | 'kernel'
  | 'initramfs'
  | 'kernel-dhcp'
  | 'nfs-root'
  | 'systemd'
  | 'login'
  | 'panic';

export interface EmulationEvent {
  kind: EmulationEventKind;
  /** Milliseconds after QEMU started. */
  atMs: number;
  /** One line for people ("kernel8.img: 31.4 MiB at 4.2 MiB/s"). */
  text: string;
  /** For `tftp-file`: the file, its size and the rate U-Boot printed. */
  file?: { name: string; bytes: number; rate: string };
  /** For `login`: the hostname on the prompt. For `dhcp` and `kernel-dhcp`: the address. */
  value?: string;
}

interface Milestone {
  kind: EmulationEventKind;
  pattern: RegExp;
  text: (match: RegExpExecArray) => string;
  value?: (match: RegExpExecArray) => string;
  /** Matched again and again (TFTP files); otherwise once. */
  repeat?: boolean;
  /** Longest text a match spans (default LINE_SPAN): older text is not scanned again. */
  span?: number;
}

/** Console lines are short; a match starts at most this far before the newest text. */
const LINE_SPAN = 4096;

const MILESTONES: readonly Milestone[] = [
  { kind: 'firmware', pattern: /U-Boot (\d{4}\.\d{2}[^\r\n]*)/, text: (m) => `U-Boot ${m[1]?.trim()}` },
  {
    kind: 'dhcp',
    pattern: /DHCP client bound to address ([\d.]+)/,
    text: (m) => `DHCP: address ${m[1]}`,
    value: (m) => m[1] ?? '',
  },
  {
    kind: 'tftp-file',
    // U-Boot net/tftp.c: "Filename 'x'." … "<rate>/s\r\ndone\r\nBytes transferred = N (hex)"
    pattern:
      /Filename '([^']+)'\.(?:(?!Filename ')[\s\S])*?([\d.]+ (?:Bytes|KiB|MiB|GiB))\/s\s+done\s+Bytes transferred = (\d+)/,
    text: (m) => `TFTP ${m[1]}: ${(Number(m[3]) / 1048576).toFixed(1)} MiB at ${m[2]}/s`,
    repeat: true,
    // U-Boot's '#' progress marks: ~2.5 KB for a 31 MiB kernel.
    span: 256 * 1024,
  },
  {
    kind: 'tftp-error',
    pattern: /TFTP error: ([^\r\n]*)/,
    text: (m) => `TFTP error: ${m[1]?.trim()}`,
    repeat: true,
  },
  { kind: 'bootargs', pattern: /Bramble: bootargs ([^\r\n]*)/, text: (m) => `bootargs: ${m[1]}` },
  {
    kind: 'kernel',
    pattern: /Booting Linux on physical CPU[^\r\n]*|Linux version (\S+)/,
    text: () => 'kernel started',
  },
  {
    kind: 'initramfs',
    // Linux init/main.c, initramfs-tools' banner, or (with `quiet`) klibc ipconfig asking for an address.
    pattern: /Run \/init as init process|Loading, please wait\.\.\.|IP-Config: \S+ hardware address/,
    text: () => 'initramfs running',
  },
  {
    kind: 'kernel-dhcp',
    // klibc ipconfig (initramfs-tools): "IP-Config: enp0s1 complete (dhcp from 10.0.0.1):\n address: 10.0.0.12 …"
    pattern: /IP-Config: (\S+) complete \((?:dhcp|bootp) from ([\d.]+)\):\s+address: ([\d.]+)/,
    text: (m) => `initramfs DHCP: ${m[1]} address ${m[3]} from ${m[2]}`,
    value: (m) => m[3] ?? '',
  },
  {
    kind: 'nfs-root',
    pattern: /Begin: Running \/scripts\/nfs-bottom|nfsmount[^\r\n]*|VFS: Mounted root \(nfs[^\r\n]*/,
    text: () => 'NFS root mounted',
  },
  {
    kind: 'systemd',
    pattern: /systemd\[1\]: (?:Detected architecture|systemd \d+ running)[^\r\n]*|Welcome to ([^\r\n!]*)!/,
    text: () => 'systemd started',
  },
  {
    kind: 'panic',
    pattern: /Kernel panic - not syncing: ([^\r\n]*)/,
    text: (m) => `kernel panic: ${m[1]?.trim()}`,
  },
  {
    kind: 'login',
    pattern: /(?:^|[\r\n])([A-Za-z0-9][A-Za-z0-9.-]{0,62}) login: ?/,
    text: (m) => `login prompt (${m[1]})`,
    value: (m) => m[1] ?? '',
  },
];

/**
 * Feeds console text in, emits each milestone once (TFTP files each time). Console kept ≤ 4 MB. Scans on
 * each complete line (and on a login prompt, which has none), each pattern only over its span of new text:
 * a serial console arriving a byte at a time costs O(lines), not O(bytes²).
 */
export class ConsoleWatch {
  private text = '';
  /** Offset (in `text`) after the last match of each milestone. */
  private readonly scanned = new Map<EmulationEventKind, number>();
  private readonly seen = new Set<EmulationEventKind>();
  /** Length of `text` at the last scan. */
  private lastScan = 0;
  readonly events: EmulationEvent[] = [];

  constructor(private readonly onEvent: (event: EmulationEvent) => void = () => undefined) {}

  /** Everything the console printed (the tail when it grew past 4 MB). */
  console(): string {
    return this.text;
  }

  feed(chunk: string, atMs: number): void {
    this.text += chunk;
    if (this.text.length > 4_000_000) {
      const cut = this.text.length - 2_000_000;
      this.text = this.text.slice(cut);
      for (const [kind, offset] of this.scanned) this.scanned.set(kind, Math.max(0, offset - cut));
      this.lastScan = Math.max(0, this.lastScan - cut);
    }
    if (!chunk.includes('\n') && !/login: ?$/.test(this.text.slice(-8))) return;
    const newFrom = this.lastScan;
    this.lastScan = this.text.length;
    for (const milestone of MILESTONES) {
      if (!milestone.repeat && this.seen.has(milestone.kind)) continue;
      const oldest = Math.max(0, newFrom - (milestone.span ?? LINE_SPAN));
      for (let guard = 0; guard < 64; guard++) {
        const from = Math.max(this.scanned.get(milestone.kind) ?? 0, oldest);
        const match = milestone.pattern.exec(this.text.slice(from));
        if (!match) break;
        this.scanned.set(milestone.kind, from + match.index + match[0].length);
        this.record(milestone, match, atMs);
        if (!milestone.repeat) break;
      }
    }
  }

  private record(milestone: Milestone, match: RegExpExecArray, atMs: number): void {
    this.seen.add(milestone.kind);
    const event: EmulationEvent = { kind: milestone.kind, atMs, text: milestone.text(match) };
    if (milestone.value) event.value = milestone.value(match);
    if (milestone.kind === 'tftp-file')
      event.file = { name: match[1] ?? '', bytes: Number(match[3]), rate: `${match[2]}/s` };
    this.events.push(event);
    this.onEvent(event);
  }

  first(kind: EmulationEventKind): EmulationEvent | undefined {
    return this.events.find((event) => event.kind === kind);
  }
}
