import type { ConfigTxt } from '@bramble/pi';
import type { ModelSpec } from './models/types.js';

/** One concrete file a step asks for: candidates are tried in order (kernel fallbacks). */
export interface ResolvedFile {
  candidates: string[];
  /** Overrides the step's need (an auto_initramfs initramfs is optional; an explicit one is required). */
  need?: 'required' | 'optional';
  /** Why this name (for the report). */
  why?: string;
}

/** The initramfs name auto_initramfs derives from a standard kernel name (config_txt/boot.adoc). */
export function autoInitramfsName(kernel: string): string | undefined {
  const m = /^kernel(8|7l|7|_2712|)\.img$/.exec(kernel);
  return m ? `initramfs${m[1]}` : undefined;
}

/**
 * Resolve a step's file template against the model's defaults and what config.txt said so far.
 * Returns undefined when the step does not apply (no initramfs asked for).
 */
export function resolveFile(
  template: string,
  spec: ModelSpec,
  config: ConfigTxt | undefined,
  chosenKernel: string | undefined,
): ResolvedFile | undefined {
  const osPrefix = config?.osPrefix ?? '';
  const arm64 = config?.arm64 ?? spec.files.arm64Default;
  switch (template) {
    case '{start}':
      return { candidates: [config?.startFile ?? spec.files.start ?? 'start.elf'] };
    case '{fixup}':
      return { candidates: [config?.fixupFile ?? spec.files.fixup ?? 'fixup.dat'] };
    case '{dtb}':
      return { candidates: [osPrefix + (config?.deviceTree ?? spec.files.dtb)] };
    case '{cmdline}':
      return { candidates: [osPrefix + (config?.cmdline ?? 'cmdline.txt')] };
    case '{kernel}': {
      if (config?.kernel) return { candidates: [osPrefix + config.kernel], why: 'kernel= in config.txt' };
      const list = arm64 ? spec.files.kernel64 : spec.files.kernel32;
      return { candidates: list.map((k) => osPrefix + k), why: arm64 ? 'arm_64bit=1' : 'arm_64bit=0' };
    }
    case '{initramfs}': {
      if (config?.initramfs?.file) {
        return {
          candidates: [osPrefix + config.initramfs.file],
          need: 'required',
          why: 'initramfs in config.txt',
        };
      }
      if (config?.autoInitramfs && chosenKernel) {
        const base = chosenKernel.slice(osPrefix.length);
        const name = autoInitramfsName(base);
        if (name) return { candidates: [osPrefix + name], need: 'optional', why: 'auto_initramfs=1' };
      }
      return undefined;
    }
    default:
      return { candidates: [template] };
  }
}
