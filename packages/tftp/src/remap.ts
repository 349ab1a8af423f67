/**
 * Filename rewrite rules as data, in the spirit of tftp-hpa's `--map-file` (regex → replacement,
 * or refuse), applied in order before the handler sees the name.
 */
import { z } from 'zod';
import { TftpConfigError } from './errors.js';

export const RemapRuleSchema = z.object({
  /** Regular expression (source text or a RegExp) tested against the requested name. */
  match: z.union([z.string(), z.instanceof(RegExp)]),
  /**
   * Replacement in JavaScript `String.replace` syntax (`$1`, `$<name>`, `$&`), plus `{ip}` (client IPv4)
   * and `{iphex}` (client IPv4 as 8 upper-case hex digits, PXELINUX style).
   */
  replace: z.string().optional(),
  /** 'rewrite' (default) replaces the matched text; 'deny' refuses the request with ERROR 2. */
  action: z.enum(['rewrite', 'deny']).default('rewrite'),
  ignoreCase: z.boolean().default(false),
  /** Replace every match, not only the first (tftp-hpa `g`). */
  global: z.boolean().default(false),
  /** Stop processing further rules when this one matched (tftp-hpa `e`). */
  stop: z.boolean().default(false),
  /** Apply to reads, writes or both (tftp-hpa `G` / `P`). */
  direction: z.enum(['read', 'write', 'both']).default('both'),
});
export type RemapRule = z.input<typeof RemapRuleSchema>;

interface CompiledRule {
  re: RegExp;
  replace: string;
  deny: boolean;
  stop: boolean;
  direction: 'read' | 'write' | 'both';
}

export type RemapResult = { file: string; denied: false } | { file: string; denied: true; rule: number };

function ipHex(ip: string): string {
  const parts = ip.split('.');
  if (parts.length !== 4) return ip;
  return parts.map((p) => Number(p).toString(16).padStart(2, '0').toUpperCase()).join('');
}

/** Compile rules once; returns a function mapping a requested name. Throws TftpConfigError on a bad regex. */
export function compileRemap(
  rules: readonly RemapRule[],
): (file: string, ctx: { remoteAddress: string; write: boolean }) => RemapResult {
  const compiled: CompiledRule[] = rules.map((raw, i) => {
    const parsed = RemapRuleSchema.safeParse(raw);
    if (!parsed.success) throw new TftpConfigError(`remap rule ${i}: ${parsed.error.message}`);
    const r = parsed.data;
    let flags = typeof r.match === 'string' ? '' : r.match.flags.replace(/[gy]/g, '');
    if (r.ignoreCase && !flags.includes('i')) flags += 'i';
    if (r.global) flags += 'g';
    const source = typeof r.match === 'string' ? r.match : r.match.source;
    let re: RegExp;
    try {
      re = new RegExp(source, flags);
    } catch (e) {
      throw new TftpConfigError(`remap rule ${i}: invalid regular expression ${JSON.stringify(source)}`, {
        cause: e,
      });
    }
    if (r.action === 'rewrite' && r.replace === undefined)
      throw new TftpConfigError(`remap rule ${i}: 'rewrite' needs a 'replace' string`);
    return { re, replace: r.replace ?? '', deny: r.action === 'deny', stop: r.stop, direction: r.direction };
  });
  return (file, ctx) => {
    let name = file;
    for (let i = 0; i < compiled.length; i++) {
      const r = compiled[i] as CompiledRule;
      if (r.direction !== 'both' && (r.direction === 'write') !== ctx.write) continue;
      r.re.lastIndex = 0;
      if (!r.re.test(name)) continue;
      if (r.deny) return { file: name, denied: true, rule: i };
      r.re.lastIndex = 0;
      const rep = r.replace
        .replaceAll('{ip}', ctx.remoteAddress)
        .replaceAll('{iphex}', ipHex(ctx.remoteAddress));
      name = name.replace(r.re, rep);
      if (r.stop) break;
    }
    return { file: name, denied: false };
  };
}
