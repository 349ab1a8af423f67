import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** Absolute path of a program on PATH (or in sbin), or undefined. */
export function which(program: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...SBIN];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, program);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

/**
 * Path of a required peer program. In CI (CI=true) a missing peer is an error, never a silent skip:
 * `.ci/run` installs every peer the tests use.
 */
export function requireTool(program: string): string {
  const p = which(program);
  if (!p) throw new Error(`test peer '${program}' is not installed: run scripts/install-peers.sh (as root)`);
  return p;
}
