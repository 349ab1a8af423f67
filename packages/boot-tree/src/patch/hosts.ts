import { BootTreeError } from '../errors.js';

function checkHostname(h: string): string {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(h)) {
    throw new BootTreeError('INVALID_INPUT', `hostname '${h}' is not a lowercase RFC 1123 label`);
  }
  return h;
}

/**
 * Patch /etc/hosts: the `127.0.1.1` line (Debian's own-hostname line) names the node; inserted after
 * the 127.0.0.1 line (or at the end) when absent. Pure and idempotent; other lines stay in order.
 */
export function patchHosts(text: string, hostname: string): string {
  const h = checkHostname(hostname);
  const entry = `127.0.1.1\t${h}`;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  let placed = false;
  for (const l of lines) {
    if (/^\s*127\.0\.1\.1\s/.test(l) || l.trim() === '127.0.1.1') {
      if (!placed) out.push(entry);
      placed = true;
      continue;
    }
    out.push(l);
  }
  if (!placed) {
    const lo = out.findIndex((l) => /^\s*127\.0\.0\.1\s/.test(l));
    out.splice(lo < 0 ? out.length : lo + 1, 0, entry);
  }
  return `${out.join('\n')}\n`;
}

/** /etc/hostname content. */
export function hostnameFile(hostname: string): string {
  return `${checkHostname(hostname)}\n`;
}
