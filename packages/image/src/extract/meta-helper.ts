import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { ImageError, MissingProgramError } from '../errors.js';
import { which } from '../source/which.js';

/**
 * Node has no API for mknod, setxattr, or utimes with nanosecond precision (fs.utimes takes
 * seconds as a double: ~240 ns steps at today's epoch, so nanoseconds do not survive). One
 * long-lived `python3` process applies them in order from a JSON-lines pipe, batched: per entry
 * mknod (specials) → lchown → chmod (after chown, so setuid/setgid survive) → setxattr (after
 * chown, which clears security.capability) → utime(ns=…, follow_symlinks=False).
 */
const HELPER_PY = `
import os, sys, json, stat, base64
errors = []
count = 0
KIND = {'char': stat.S_IFCHR, 'block': stat.S_IFBLK, 'socket': stat.S_IFSOCK}
for line in sys.stdin:
    count += 1
    try:
        m = json.loads(line)
        p = m['p']
        k = m.get('k')
        if 'mk' in m:
            if k == 'fifo':
                os.mkfifo(p, 0o600)
            else:
                os.mknod(p, KIND[k] | 0o600, os.makedev(m.get('maj', 0), m.get('min', 0)))
        if 'u' in m:
            os.lchown(p, m['u'], m['g'])
        if k != 'symlink' and 'm' in m:
            os.chmod(p, m['m'])
        for n, v in m.get('x', []):
            os.setxattr(p, n, base64.b64decode(v), follow_symlinks=False)
        if 'mt' in m:
            os.utime(p, ns=(int(m['at']), int(m['mt'])), follow_symlinks=False)
    except Exception as e:
        if len(errors) < 20:
            errors.append('%s: %s' % (line[:200].strip(), e))
        else:
            errors.append('...')
            break
sys.stdout.write(json.dumps({'count': count, 'errors': errors}))
sys.exit(1 if errors else 0)
`;

/** The system python3 (a pyenv/asdf shim on PATH costs most of a second per start), else the one on PATH. */
function findPython(): string | undefined {
  for (const candidate of ['/usr/bin/python3', '/usr/local/bin/python3']) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* try the next */
    }
  }
  return which('python3');
}

const PYTHON_NEEDED =
  'extracting to a directory needs python3: it creates device nodes and fifos and sets xattrs and nanosecond timestamps, which Node has no API for';

/**
 * Check up front, before anything is decompressed or written, that python3 runs and has the
 * modules the helper uses; returns its path. MissingProgramError (MISSING_PROGRAM) otherwise.
 */
export async function requirePython(): Promise<string> {
  const python = findPython();
  const advice = 'install it (Debian: apt-get install python3-minimal), or extract with format: "tar"';
  if (python === undefined) throw new MissingProgramError('python3', `${PYTHON_NEEDED}; ${advice}`);
  const probe = spawn(python, ['-I', '-c', 'import os, sys, json, stat, base64'], { stdio: 'ignore' });
  const timer = setTimeout(() => probe.kill('SIGKILL'), 30_000);
  const status = await new Promise<number | string>((resolve) => {
    probe.once('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? 'error'));
    probe.once('close', (code, signal) => resolve(code ?? signal ?? 'killed'));
  }).finally(() => clearTimeout(timer));
  if (status !== 0) {
    throw new MissingProgramError(
      'python3',
      `${PYTHON_NEEDED}, and ${python} does not run (${status}); ${advice}`,
    );
  }
  return python;
}

export interface MetaOp {
  /** Absolute path to apply to. */
  p: string;
  /** Entry kind ('symlink' skips chmod; specials are created when `mk` is set). */
  k: string;
  mk?: 1;
  maj?: number;
  min?: number;
  u?: number;
  g?: number;
  m?: number;
  /** [name, base64 value] */
  x?: [string, string][];
  at?: string;
  mt?: string;
}

export class MetaHelper {
  private readonly proc: ChildProcess;
  private out = '';
  private err = '';
  private exited: Promise<number | null>;

  private pending: string[] = [];
  private pendingBytes = 0;

  constructor(python: string) {
    this.proc = spawn(python, ['-I', '-c', HELPER_PY], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout?.on('data', (b: Buffer) => {
      this.out += b.toString();
    });
    this.proc.stderr?.on('data', (b: Buffer) => {
      if (this.err.length < 10_000) this.err += b.toString();
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('error', (e) => {
        this.err += String(e);
        resolve(-1);
      });
      this.proc.once('close', (code) => resolve(code));
    });
    this.proc.stdin?.on('error', () => {
      /* reported through the exit status */
    });
  }

  /** Queue one operation (written in ~64 KiB batches); resolves when the pipe accepts more (backpressure). */
  async send(op: MetaOp): Promise<void> {
    const line = `${JSON.stringify(op)}\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= 65536) await this.flush();
  }

  private async flush(): Promise<void> {
    const stdin = this.proc.stdin;
    if (!stdin || stdin.destroyed) {
      throw new ImageError('IO', `metadata helper (python3) is not running: ${this.err}`);
    }
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (!stdin.write(chunk)) await Promise.race([once(stdin, 'drain'), this.exited]);
  }

  /** Close the pipe and wait until every operation was applied; throws ImageError('IO') listing failures. */
  async finish(): Promise<number> {
    await this.flush();
    this.proc.stdin?.end();
    const code = await this.exited;
    let report: { count: number; errors: string[] } | undefined;
    try {
      report = JSON.parse(this.out) as { count: number; errors: string[] };
    } catch {
      report = undefined;
    }
    if (code !== 0 || !report) {
      const detail = report?.errors.join('\n') ?? this.err.trim();
      const hint = code === -1 ? ' (is python3 installed? it applies devices, xattrs and ns timestamps)' : '';
      throw new ImageError('IO', `applying metadata failed${hint}:\n${detail}`);
    }
    return report.count;
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}
