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
        op = json.loads(line)
        path = op['path']
        kind = op['kind']
        if op.get('create'):
            if kind == 'fifo':
                os.mkfifo(path, 0o600)
            else:
                os.mknod(path, KIND[kind] | 0o600, os.makedev(op.get('major', 0), op.get('minor', 0)))
        if 'uid' in op:
            os.lchown(path, op['uid'], op['gid'])
        if kind != 'symlink' and 'mode' in op:
            os.chmod(path, op['mode'])
        for name, value in op.get('xattrs', []):
            os.setxattr(path, name, base64.b64decode(value), follow_symlinks=False)
        if 'mtimeNs' in op:
            os.utime(path, ns=(int(op['atimeNs']), int(op['mtimeNs'])), follow_symlinks=False)
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

/** One entry's metadata for the helper, applied in this order: create, owner, mode, xattrs, times. */
export interface MetaOp {
  /** Absolute path to apply to. */
  path: string;
  /** Entry type ('symlink' skips chmod; 'char' / 'block' / 'fifo' / 'socket' are created with `create`). */
  kind: string;
  /** Create the special file first (mknod / mkfifo). */
  create?: true;
  /** Device numbers of a char or block device. */
  major?: number;
  minor?: number;
  uid?: number;
  gid?: number;
  /** Permission bits with setuid/setgid/sticky. */
  mode?: number;
  /** [name, base64 value] */
  xattrs?: [string, string][];
  /** Times in nanoseconds since the epoch, as decimal strings (exact; may be negative). */
  atimeNs?: string;
  mtimeNs?: string;
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
