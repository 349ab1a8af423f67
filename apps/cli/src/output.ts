/**
 * Everything the CLI prints: tables (or JSON with --json), messages honouring --quiet and
 * --verbose, colours only on a TTY and never with NO_COLOR, and a progress bar on stderr.
 */

export interface Column<T> {
  key: keyof T & string;
  header: string;
  align?: 'left' | 'right';
  format?: (v: T[keyof T], row: T) => string;
}

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  color?: boolean;
  stdout?: NodeJS.WriteStream | NodeJS.WritableStream;
  stderr?: NodeJS.WriteStream | NodeJS.WritableStream;
}

const isTty = (s: unknown) => Boolean((s as { isTTY?: boolean }).isTTY);

export function colorWanted(stream: unknown, flag?: boolean): boolean {
  if (flag === false) return false;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return isTty(stream);
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
export const visibleLength = (s: string) => s.replace(ANSI, '').length;

export interface Progress {
  update(done: number, total?: number, label?: string): void;
  done(message?: string): void;
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly color: boolean;
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream;

  constructor(options: OutputOptions = {}) {
    this.out = options.stdout ?? process.stdout;
    this.err = options.stderr ?? process.stderr;
    this.json = options.json ?? false;
    this.quiet = options.quiet ?? false;
    this.verbose = options.verbose ?? false;
    this.color = colorWanted(this.out, options.color);
  }

  private paint(code: string, s: string): string {
    return this.color ? `\u001b[${code}m${s}\u001b[0m` : s;
  }
  bold = (s: string) => this.paint('1', s);
  dim = (s: string) => this.paint('2', s);
  green = (s: string) => this.paint('32', s);
  red = (s: string) => this.paint('31', s);
  yellow = (s: string) => this.paint('33', s);

  /** Main output (stdout). Suppressed by --quiet and in --json mode. */
  print(text = ''): void {
    if (this.quiet || this.json) return;
    this.out.write(`${text}\n`);
  }
  /** Output that is the point of the command (a config file, a report): printed even with --quiet. */
  raw(text: string): void {
    this.out.write(text.endsWith('\n') ? text : `${text}\n`);
  }
  /** Progress notes on stderr (suppressed by --quiet). */
  note(text: string): void {
    if (!this.quiet) this.err.write(`${text}\n`);
  }
  /** Only with --verbose. */
  debug(text: string): void {
    if (this.verbose) this.err.write(`${this.dim(text)}\n`);
  }
  warn(text: string): void {
    this.err.write(`${this.yellow('warning:')} ${text}\n`);
  }
  /** Print JSON to stdout (for --json). */
  data(value: unknown): void {
    this.out.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A listing: a table, or the rows as JSON with --json. */
  table<T extends object>(
    rows: readonly T[],
    columns: readonly Column<T>[],
    tableOptions: { empty?: string } = {},
  ): void {
    if (this.json) {
      this.data(rows);
      return;
    }
    if (this.quiet) return;
    if (rows.length === 0) {
      this.out.write(`${tableOptions.empty ?? '(none)'}\n`);
      return;
    }
    this.out.write(formatTable(rows, columns, (s) => this.bold(s)));
  }

  /** A progress bar on stderr when it is a TTY; otherwise silent (a final note with --verbose). */
  progress(label: string): Progress {
    const tty = isTty(this.err) && !this.quiet && !this.json;
    let last = 0;
    const started = Date.now();
    return {
      update: (done, total, l) => {
        if (!tty) return;
        const now = Date.now();
        if (now - last < 100 && (total === undefined || done < total)) return;
        last = now;
        const width = 30;
        const frac = total ? Math.min(1, done / total) : 0;
        const bar = total
          ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ${(frac * 100).toFixed(0).padStart(3)}%`
          : '';
        this.err.write(
          `\r\u001b[2K${l ?? label} ${bar} ${formatBytes(done)}${total ? ` / ${formatBytes(total)}` : ''}`,
        );
      },
      done: (message) => {
        if (tty) this.err.write('\r\u001b[2K');
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        if (message) this.note(`${message} (${secs} s)`);
        else this.debug(`${label}: done in ${secs} s`);
      },
    };
  }
}

export function formatTable<T extends object>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  header: (s: string) => string = (s) => s,
): string {
  const cells = rows.map((r) =>
    columns.map((c) => {
      const v = r[c.key];
      return c.format ? c.format(v, r) : v === undefined || v === null ? '-' : String(v);
    }),
  );
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((row) => visibleLength(row[i] ?? ''))),
  );
  const pad = (s: string, i: number) => {
    const w = widths[i] ?? 0;
    const fill = ' '.repeat(Math.max(0, w - visibleLength(s)));
    return columns[i]?.align === 'right' ? fill + s : s + fill;
  };
  const lines = [
    header(
      columns
        .map((c, i) => pad(c.header, i))
        .join('  ')
        .trimEnd(),
    ),
    ...cells.map((row) =>
      row
        .map((s, i) => pad(s, i))
        .join('  ')
        .trimEnd(),
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
