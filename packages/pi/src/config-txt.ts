/**
 * config.txt parsed the way the Pi firmware reads it (raspberrypi/documentation config_txt/*.adoc,
 * conditional.adoc; pi-netboot.md §2.7):
 * - one `property=value` per line; a line starting with `#` is a comment; the firmware does not strip inline `#`;
 * - `initramfs <file> <address|followkernel>` is the one space-separated directive; `include <file>` inlines a file;
 * - `[filter]` sections: `[all]` resets every filter, `[none]` ignores everything until the next `[all]`, filters
 *   of the same kind replace each other and filters of different kinds AND together; a board filter such as
 *   `[pi4]` applies to every board in its family; `[0x<serial>]` matches the board's serial; filters the simulator
 *   cannot evaluate (`[gpio4=1]`, `[HDMI:0]`, `[EDID=…]`, `[tryboot]`) are taken as not matching;
 * - over netboot only the first 4096 bytes count (firmware#1575): the rest is ignored and reported;
 * - the last value of a property wins, `dtoverlay=` accumulates.
 */

export const CONFIG_TXT_LIMIT = 4096;

export interface ConfigTxt {
  /** Effective properties (last one wins), only from sections that apply. */
  settings: Map<string, string>;
  kernel?: string;
  initramfs?: { file: string; address: string };
  autoInitramfs: boolean;
  /** undefined when config.txt does not say (the model's default applies). */
  arm64?: boolean;
  cmdline?: string;
  deviceTree?: string;
  startFile?: string;
  fixupFile?: string;
  osPrefix?: string;
  /** `dtoverlay=` names in order (parameters after ',' dropped). */
  overlays: string[];
  /** `include` files that were referenced (whether or not they could be read). */
  includes: string[];
  /** True when the text was longer than 4096 bytes and the tail was ignored. */
  truncated: boolean;
  /** Things a user should know ("include x.txt not found", "ignored after 4096 bytes: enable_uart=1"). */
  notes: string[];
}

export interface ConfigContext {
  /** Section names this board answers to: ['pi4', 'pi400']. */
  filters: readonly string[];
  /** 8 hex digits, for `[0x12345678]` sections. */
  serial?: string;
  /** Content of an included file, or undefined when it does not exist. */
  include?: (file: string) => string | undefined;
}

type FilterState = { none: boolean; kinds: Map<string, boolean> };

/** Which kind a section filter is, and whether it applies to this board. */
function evaluateFilter(raw: string, ctx: ConfigContext): { kind: string; match: boolean } {
  const f = raw.trim().toLowerCase();
  if (/^0x[0-9a-f]{1,16}$/.test(f)) {
    const want = f.slice(2).padStart(8, '0').slice(-8);
    return { kind: 'serial', match: ctx.serial !== undefined && want === ctx.serial };
  }
  if (/^(pi[0-9][0-9a-z+]*|cm[0-9][a-z0-9]*)$/.test(f)) {
    return { kind: 'model', match: ctx.filters.includes(f) };
  }
  const kind = f.split(/[=:]/)[0] ?? f;
  return { kind, match: false };
}

function applies(state: FilterState): boolean {
  if (state.none) return false;
  for (const v of state.kinds.values()) if (!v) return false;
  return true;
}

const MAX_INCLUDE_DEPTH = 4;

export function parseConfigTxt(text: string, ctx: ConfigContext): ConfigTxt {
  const out: ConfigTxt = {
    settings: new Map(),
    autoInitramfs: false,
    overlays: [],
    includes: [],
    truncated: false,
    notes: [],
  };
  const state: FilterState = { none: false, kinds: new Map() };

  const visit = (body: string, depth: number, name: string): void => {
    let usable = body;
    const bytes = Buffer.from(body, 'utf8');
    if (bytes.length > CONFIG_TXT_LIMIT) {
      usable = bytes.subarray(0, CONFIG_TXT_LIMIT).toString('utf8');
      out.truncated = true;
      const lost = bytes
        .subarray(CONFIG_TXT_LIMIT)
        .toString('utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      out.notes.push(
        `${name} is ${bytes.length} bytes; the firmware ignores everything after byte ${CONFIG_TXT_LIMIT}` +
          (lost.length ? ` (${lost.slice(0, 3).join(', ')}${lost.length > 3 ? ', …' : ''})` : ''),
      );
    }
    for (const rawLine of usable.split(/\r?\n/)) {
      const line = rawLine.trim();
      if (!line || line.startsWith('#')) continue;
      if (line.startsWith('[')) {
        const inner = line
          .slice(1, line.indexOf(']') > 0 ? line.indexOf(']') : undefined)
          .trim()
          .toLowerCase();
        if (inner === 'all') {
          state.none = false;
          state.kinds.clear();
        } else if (inner === 'none') {
          state.none = true;
        } else {
          const { kind, match } = evaluateFilter(inner, ctx);
          state.kinds.set(kind, match);
        }
        continue;
      }
      if (!applies(state)) continue;
      const spaced = /^(initramfs|include)\s+(.+)$/i.exec(line);
      if (spaced) {
        const directive = spaced[1]!.toLowerCase();
        const args = spaced[2]!.trim().split(/\s+/);
        if (directive === 'initramfs') {
          out.initramfs = { file: args[0] ?? '', address: args[1] ?? '' };
          out.settings.set('initramfs', args.join(' '));
        } else {
          const file = args[0] ?? '';
          out.includes.push(file);
          const inc = ctx.include?.(file);
          if (inc === undefined) out.notes.push(`include ${file}: file not found`);
          else if (depth >= MAX_INCLUDE_DEPTH) out.notes.push(`include ${file}: nested too deeply`);
          else visit(inc, depth + 1, file);
        }
        continue;
      }
      const eq = line.indexOf('=');
      if (eq <= 0) {
        out.notes.push(`${name}: ignored line '${line}'`);
        continue;
      }
      const key = line.slice(0, eq).trim().toLowerCase();
      const value = line.slice(eq + 1).trim();
      out.settings.set(key, value);
      if (key === 'dtoverlay') {
        const overlay = value.split(',')[0]?.trim();
        if (overlay) out.overlays.push(overlay);
      }
    }
  };
  visit(text, 0, 'config.txt');

  const s = out.settings;
  const str = (k: string) => {
    const v = s.get(k);
    return v === undefined || v === '' ? undefined : v;
  };
  const kernel = str('kernel');
  if (kernel) out.kernel = kernel;
  const bool = (k: string) => {
    const v = str(k);
    return v === undefined ? undefined : v !== '0';
  };
  out.autoInitramfs = bool('auto_initramfs') ?? false;
  const arm64 = bool('arm_64bit') ?? (str('arm_control') === '0x200' ? true : undefined);
  if (arm64 !== undefined) out.arm64 = arm64;
  const cmdline = str('cmdline');
  if (cmdline) out.cmdline = cmdline;
  const dt = str('device_tree');
  if (dt) out.deviceTree = dt;
  const start = str('start_file');
  if (start) out.startFile = start;
  const fixup = str('fixup_file');
  if (fixup) out.fixupFile = fixup;
  const osPrefix = str('os_prefix');
  if (osPrefix) out.osPrefix = osPrefix;
  return out;
}

/** `include` file names referenced by a config.txt (in sections that apply), so they can be fetched first. */
export function configIncludes(text: string, ctx: ConfigContext): string[] {
  return parseConfigTxt(text, { ...ctx, include: () => '' }).includes;
}
