import type { PiModel } from './models/types.js';

export type StepOutcome =
  /** Sent / received / transferred as a real Pi needs. */
  | 'ok'
  /** File probed (tsize) and aborted with "Early terminate", as the firmware does. */
  | 'probed'
  /** File not on the server; fine for optional and expected-missing files. */
  | 'missing'
  /** An offer the ROM would ignore, or an answer a Pi would not accept. */
  | 'rejected'
  | 'timeout'
  | 'error'
  /** Not attempted (an earlier step stopped the boot). */
  | 'skipped';

export interface BootStep {
  /** 'dhcp' or 'tftp'. */
  protocol: 'dhcp' | 'tftp';
  /** What the firmware did: 'DISCOVER', 'OFFER', 'REQUEST', 'ACK', 'probe', 'read'. */
  action: string;
  /** TFTP file as requested (with prefix) or the DHCP peer. */
  target: string;
  /** Which piece of firmware did it ('boot ROM', 'bootcode.bin', 'EEPROM bootloader', 'start4.elf'). */
  stage: string;
  outcome: StepOutcome;
  /** Milliseconds from the start of the boot. */
  atMs: number;
  ms: number;
  bytes?: number;
  detail?: string;
}

export interface FetchedFile {
  /** Path as requested, prefix included ('7a1b2c3d/start4.elf'). */
  path: string;
  size: number;
  sha256: string;
  ms: number;
  /** Negotiated TFTP options (OACK). */
  options: Record<string, string>;
}

/** One DHCPOFFER the virtual Pi received, as the server sent it and as the ROM judged it. */
export interface SeenOffer {
  /** Server identifier (option 54), else the packet's source address. */
  server: string;
  /** IP source address of the datagram. */
  source: string;
  /** Offered address; '0.0.0.0' for a proxyDHCP offer. */
  yiaddr: string;
  /** next-server (siaddr), which the Pi ignores. */
  siaddr: string;
  /** Option 43, hex, when sent. */
  option43?: string;
  /** Printable text of option 43 (e.g. the PXE menu's 'Raspberry Pi Boot'). */
  option43Text?: string;
  /** Option 60 (vendor class, e.g. 'PXEClient'), when sent. */
  vendorClass?: string;
  /** Option 66 (TFTP server name), when sent. */
  option66?: string;
  /** The TFTP server the ROM would use from this offer, and why (undefined when it rejects the offer). */
  tftpServer?: string;
  tftpServerFrom?: 'option 66' | 'option 54' | 'packet source' | 'configured';
  /** Whether the model's ROM accepts it as a boot offer, and why not. */
  accepted: boolean;
  reason?: string;
  /** Whether the Pi followed this offer: for booting (TFTP) and/or for its address. */
  used?: Array<'boot' | 'address'>;
  /** Milliseconds from the start of the boot. */
  atMs: number;
}

export interface DhcpSummary {
  xid: number;
  offers: number;
  /** DISCOVERs sent, over every network-boot restart. */
  discovers?: number;
  /** Interface the DISCOVERs were broadcast on, when one was given or chosen. */
  interface?: string;
  /** Every offer seen within the collection window, in arrival order. */
  seen?: SeenOffer[];
  /** Server that sent the accepted boot offer (option 54 or source address). */
  server?: string;
  /** Address the Pi would use (yiaddr of the accepted / acknowledged offer). */
  address?: string;
  /** TFTP server the firmware picked and why. */
  tftpServer?: string;
  tftpServerFrom?: 'option 66' | 'option 54' | 'packet source' | 'configured';
  /** Option 43 of the accepted boot offer, hex (what the server really sent). */
  option43?: string;
}

export interface BootReport {
  model: PiModel;
  serial: string;
  mac: string;
  /** TFTP directory prefix the firmware settled on ('7a1b2c3d/'), '' for the root. */
  prefix?: string;
  dhcp?: DhcpSummary;
  tftp?: { host: string; port: number };
  steps: BootStep[];
  files: FetchedFile[];
  /** Kernel and initramfs the firmware would start. */
  kernel?: string;
  initramfs?: string;
  /** The command line it would hand the kernel. */
  cmdline?: string;
  verdict: 'would boot' | 'would not boot';
  /** Why not, in plain words (the first thing that would stop a real Pi). */
  reason?: string;
  /** The NFS root the kernel would mount (server falls back to the TFTP server when nfsroot= names none). */
  nfsRoot?: { server: string; path: string; version: string };
  /** Things that would not stop the boot but deserve a look. */
  warnings: string[];
  totalBytes: number;
  durationMs: number;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A human-readable report: verdict first, then DHCP, TFTP steps, files, cmdline. */
export function formatReport(r: BootReport): string {
  const lines: string[] = [];
  const head = r.verdict === 'would boot' ? 'WOULD BOOT' : 'WOULD NOT BOOT';
  lines.push(`${r.model} serial ${r.serial} mac ${r.mac}: ${head}${r.reason ? ` — ${r.reason}` : ''}`);
  if (r.nfsRoot) {
    lines.push(`  NFS root: ${r.nfsRoot.server}:${r.nfsRoot.path} (NFS version ${r.nfsRoot.version})`);
  }
  if (r.dhcp) {
    const d = r.dhcp;
    lines.push(
      `  DHCP${d.interface ? ` on ${d.interface}` : ''}: xid 0x${d.xid.toString(16).padStart(8, '0')}, ${d.offers} offer(s)` +
        (d.server ? `, boot offer from ${d.server}` : '') +
        (d.address ? `, address ${d.address}` : '') +
        (d.tftpServer ? `, TFTP server ${d.tftpServer} (${d.tftpServerFrom})` : ''),
    );
  }
  if (r.dhcp?.seen?.length) lines.push(...formatOffers(r.dhcp.seen));
  if (r.tftp) {
    lines.push(`  TFTP: ${r.tftp.host}:${r.tftp.port}, prefix ${r.prefix ? `${r.prefix}` : '(root)'}`);
  }
  if (r.kernel) lines.push(`  kernel: ${r.kernel}${r.initramfs ? `, initramfs: ${r.initramfs}` : ''}`);
  if (r.cmdline !== undefined) lines.push(`  cmdline: ${r.cmdline}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  lines.push('  steps:');
  for (const s of r.steps) {
    const extra = [s.bytes !== undefined ? size(s.bytes) : '', s.detail ?? ''].filter(Boolean).join(', ');
    lines.push(
      `    ${pad(`${s.atMs}ms`, 8)} ${pad(s.protocol, 4)} ${pad(s.action, 8)} ${pad(s.target, 36)} ${pad(s.outcome, 8)} ${pad(`${s.ms}ms`, 7)} ${extra}`.trimEnd(),
    );
  }
  if (r.files.length) {
    lines.push('  files:');
    for (const f of r.files) {
      lines.push(
        `    ${pad(f.path, 40)} ${pad(size(f.size), 10)} ${pad(`${f.ms}ms`, 7)} sha256:${f.sha256.slice(0, 16)}`,
      );
    }
  }
  lines.push(`  total: ${size(r.totalBytes)} in ${r.durationMs} ms`);
  return lines.join('\n');
}

/** The offers a virtual Pi saw, as a table: server, yiaddr, siaddr, option 60/43/66, TFTP server, verdict. */
export function formatOffers(offers: readonly SeenOffer[]): string[] {
  const header = ['SERVER', 'YIADDR', 'SIADDR', 'VENDOR', 'OPTION 43', 'TFTP SERVER', 'ROM'];
  const rows = offers.map((o) => [
    o.server === o.source ? o.server : `${o.server} (from ${o.source})`,
    o.yiaddr === '0.0.0.0' ? '- (proxy)' : o.yiaddr,
    o.siaddr,
    o.vendorClass ?? '-',
    o.option43Text !== undefined ? JSON.stringify(o.option43Text) : o.option43 ? `hex ${o.option43}` : '-',
    o.tftpServer ? `${o.tftpServer} (${o.tftpServerFrom})` : o.option66 ? `option 66 ${o.option66}` : '-',
    (o.accepted ? 'accepts' : `rejects: ${o.reason ?? ''}`) +
      (o.used?.length ? ` [${o.used.join('+')}]` : ''),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `    ${cells.map((c, i) => pad(c, widths[i] ?? 0)).join('  ')}`.trimEnd();
  return [`  offers seen (${offers.length}):`, line(header), ...rows.map(line)];
}
