import { type ChildProcess, spawn } from 'node:child_process';

export interface Peer {
  readonly proc: ChildProcess;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** Start a long-lived peer program; its stdout+stderr are kept for diagnostics. Stopped with SIGTERM, then SIGKILL. */
export function startPeer(
  argv: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Peer {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('startPeer: empty argv');
  const proc = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  let out = '';
  const keep = (b: Buffer) => {
    out += b.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return {
    proc,
    output: () => out,
    stop: () => stopProcess(proc),
  };
}

export async function stopProcess(proc: ChildProcess, graceMs = 3000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

/** Poll `check` until it returns true, at most `timeoutMs` (bounded in count and time). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  stepMs = 50,
): Promise<void> {
  const tries = Math.ceil(timeoutMs / stepMs);
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
}
