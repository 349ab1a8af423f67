/** The boot timeline's records: what brambled saw of one node's boot, step by step. */

/** How one TFTP file of a boot ended. */
export type FileResult =
  /** Still being sent. */
  | 'in-progress'
  | 'complete'
  /** The firmware's tsize probe: it ends the transfer after the OACK ("early terminate"). */
  | 'probe'
  /** Aborted by the client without being a tsize probe. */
  | 'aborted'
  /** Not there, and the firmware expects that (bootsig.bin, recovery.elf, pieeprom.sig). */
  | 'expected-missing'
  /** Not there, and the firmware carries on without it (config.txt, overlays, kernel fallbacks). */
  | 'optional-missing'
  /** Not there, and the boot needs it. */
  | 'missing'
  | 'failed';

export interface FileStep {
  /** Path below the node's prefix, e.g. `start4.elf`. */
  file: string;
  /** Unix ms of the read request. */
  at: number;
  /** Unix ms the transfer ended. */
  endAt?: number;
  bytes: number;
  durationMs?: number;
  /** Bytes per second over the transfer. */
  rate?: number;
  retransmits: number;
  result: FileResult;
  /** The error message of a failed transfer. */
  error?: string;
}

export interface DhcpStep {
  kind: 'discover' | 'request' | 'offer';
  at: number;
  via: 'dhcp' | 'pxe';
}

export type BootState = 'booting' | 'up' | 'failed';

/** Where a failed boot stopped (the `stage` label of bramble_boot_failures_total). */
export type FailureStage = 'dhcp' | 'bootloader' | 'firmware' | 'kernel';

export interface BootFailure {
  stage: FailureStage;
  /** Plain words: "stalled after start4.elf (no request for 7 s)". */
  reason: string;
}

/** One boot as recorded (mutable inside the recorder). */
export interface BootRecord {
  /** Per node, counting up from 1. */
  id: number;
  node: string;
  startedAt: number;
  startedBy: 'dhcp' | 'tftp';
  lastEventAt: number;
  address?: string;
  dhcp: DhcpStep[];
  files: FileStep[];
  /** Files not kept because the boot reached its file limit. */
  filesDropped: number;
  /** Unix ms the kernel (and the initramfs after it, when one was fetched) finished. */
  handoverAt?: number;
  kernel?: string;
  initramfs?: string;
  /** Unix ms the node reported multi-user.target. */
  userspaceUpAt?: number;
}

/** A boot as shown: the record with its state judged at `now`. */
export interface BootView extends BootRecord {
  state: BootState;
  /** Start to handover (or to now while booting). */
  durationMs: number;
  failure?: BootFailure;
}

/** One row of the fleet table. */
export interface NodeStatus {
  node: string;
  model?: string;
  serial?: string;
  mac?: string;
  address?: string;
  state: BootState | 'never-seen';
  lastBootAt?: number;
  lastBootMs?: number;
  userspaceUpAt?: number;
  failure?: BootFailure;
  boots: number;
}
