import { CONFIG_TXT_LIMIT } from '@bramble/pi';
import { BootTreeError } from '../errors.js';
import { checkVersion } from './validate.js';

export interface ConfigTxtOptions {
  nfsVersion: string;
  /** The release boots through an initramfs (Bookworm+). */
  usesInitramfs: boolean;
}

/**
 * Patch config.txt. Pure and idempotent. NFSv4 on an initramfs release needs the initramfs switched off
 * (its klibc nfsmount only speaks v2/v3): every `auto_initramfs=` becomes 0 (or `auto_initramfs=0` is
 * added before the first section), explicit `initramfs` lines are commented out. When the result is
 * over 4 KiB, comment and blank lines are dropped; if it is still too large a BootTreeError
 * ('CONFIG_TOO_LARGE') is thrown.
 */
export function patchConfigTxt(text: string, options: ConfigTxtOptions): string {
  const vers = checkVersion(options.nfsVersion);
  let lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (options.usesInitramfs && vers !== '3') {
    let found = false;
    lines = lines.map((l) => {
      if (/^\s*auto_initramfs\s*=/.test(l)) {
        found = true;
        return 'auto_initramfs=0';
      }
      if (/^\s*initramfs\s+\S/.test(l)) return `#bramble (NFSv4 needs no initramfs): ${l.trim()}`;
      return l;
    });
    if (!found) {
      const firstSection = lines.findIndex((l) => /^\s*\[/.test(l));
      const at = firstSection < 0 ? lines.length : firstSection;
      lines.splice(at, 0, 'auto_initramfs=0');
    }
  }
  let out = `${lines.join('\n')}\n`;
  if (Buffer.byteLength(out) > CONFIG_TXT_LIMIT) {
    out = `${lines.filter((l) => l.trim() !== '' && !l.trim().startsWith('#')).join('\n')}\n`;
  }
  if (Buffer.byteLength(out) > CONFIG_TXT_LIMIT) {
    throw new BootTreeError(
      'CONFIG_TOO_LARGE',
      `config.txt is ${Buffer.byteLength(out)} bytes without comments; the netboot firmware ignores everything after ${CONFIG_TXT_LIMIT} bytes: move settings into an included file or remove unused ones`,
    );
  }
  return out;
}
