/**
 * What each file the Pi firmware asks for over TFTP means, derived from the model sequences: which names
 * start a boot, which are expected to be missing, which are optional, which are the kernel and initramfs.
 * A server watching real boots (brambled's boot timeline) uses this to tell a failure from a normal probe.
 */
import { autoInitramfsName } from './boot-files.js';
import { MODELS } from './models/index.js';
import type { ModelSpec } from './models/types.js';

export interface FirmwareFileRoles {
  /** The first file of a boot: bootcode.bin (Pi 3 ROM) and the prefix-selecting probes (start4.elf, config.txt). */
  bootStart: ReadonlySet<string>;
  /** The firmware expects "file not found" (bootsig.bin, recovery.elf, pieeprom.sig). */
  expectMissing: ReadonlySet<string>;
  /** Fetched when present, skipped when missing (config.txt, overlays, kernel fallbacks). */
  optional: ReadonlySet<string>;
  /** Second-stage firmware files (start*.elf): after them the firmware, not the ROM/EEPROM, asks. */
  firmware: ReadonlySet<string>;
  /** Default kernel names of every model (a custom `kernel=` name is not known here). */
  kernels: ReadonlySet<string>;
  /** The initramfs names auto_initramfs derives from those kernels. */
  initramfs: ReadonlySet<string>;
}

function rolesOf(specs: readonly ModelSpec[]): FirmwareFileRoles {
  const bootStart = new Set<string>();
  const expectMissing = new Set<string>();
  const optional = new Set<string>();
  const firmware = new Set<string>();
  const kernels = new Set<string>();
  for (const spec of specs) {
    for (const step of spec.sequence) {
      if (step.kind === 'select-prefix') for (const probe of step.probes) bootStart.add(probe);
      if (step.kind !== 'file' || step.file.startsWith('{')) continue;
      if (step.root && step.need === 'required') bootStart.add(step.file);
      if (step.need === 'expect-missing') expectMissing.add(step.file);
      if (step.need === 'optional') optional.add(step.file);
    }
    if (spec.files.start) firmware.add(spec.files.start);
    for (const kernel of [...spec.files.kernel64, ...spec.files.kernel32]) kernels.add(kernel);
  }
  const initramfs = new Set([...kernels].flatMap((k) => autoInitramfsName(k) ?? []));
  // Kernel candidates are tried in order, so a missing one is not yet a failure.
  for (const kernel of kernels) optional.add(kernel);
  return { bootStart, expectMissing, optional, firmware, kernels, initramfs };
}

let cached: FirmwareFileRoles | undefined;

/** The roles of firmware file names across every model the simulator knows. */
export function firmwareFileRoles(): FirmwareFileRoles {
  cached ??= rolesOf(Object.values(MODELS));
  return cached;
}
