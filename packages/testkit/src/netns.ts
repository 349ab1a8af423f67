import { randomBytes } from 'node:crypto';
import { execa } from 'execa';

/**
 * A network namespace created for one test, deleted by `destroy()`.
 * Names are unique (`brt-<tag>-<random>`) so parallel runs never collide.
 */
export interface NetNs {
  readonly name: string;
  /** Run a command inside the namespace (`ip netns exec`). */
  exec(cmd: string, args: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** argv prefix that runs a program inside the namespace, for spawning long-lived peers. */
  readonly prefix: readonly string[];
  destroy(): Promise<void>;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function uniqueName(tag: string): string {
  // Interface names are limited to 15 characters; namespace names are not, but keep them short.
  return `brt-${tag.slice(0, 6)}-${randomBytes(3).toString('hex')}`;
}

async function run(
  cmd: string,
  args: readonly string[],
  timeoutMs = 20_000,
  input?: string,
): Promise<string> {
  const r = await execa(cmd, args, { timeout: timeoutMs, ...(input !== undefined ? { input } : {}) });
  return r.stdout;
}

export async function createNetNs(tag: string): Promise<NetNs> {
  const name = uniqueName(tag);
  await run('ip', ['netns', 'add', name]);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  const prefix = ['ip', 'netns', 'exec', name] as const;
  return {
    name,
    prefix,
    exec: (cmd, args, opts) =>
      run('ip', ['netns', 'exec', name, cmd, ...args], opts?.timeoutMs ?? 60_000, opts?.input),
    destroy: async () => {
      await execa('ip', ['netns', 'pids', name], { reject: false }).then(async (r) => {
        for (const pid of r.stdout.split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      });
      await execa('ip', ['netns', 'del', name], { reject: false });
    },
  };
}

export interface VethLink {
  a: NetNs;
  b: NetNs;
  /** Interface name inside `a` and inside `b`. */
  ifA: string;
  ifB: string;
  addrA: string;
  addrB: string;
  destroy(): Promise<void>;
}

/**
 * Two fresh namespaces joined by a veth pair, addressed from 10.250.x.0/24 (only inside the namespaces).
 * `subnet` picks x (0-255); addresses are .1 (a) and .2 (b).
 */
export async function createVethPair(
  tag: string,
  subnet = Math.floor(Math.random() * 250) + 1,
): Promise<VethLink> {
  const a = await createNetNs(`${tag}a`);
  let b: NetNs | undefined;
  try {
    b = await createNetNs(`${tag}b`);
    const suffix = randomBytes(3).toString('hex');
    const ifA = `vea${suffix}`;
    const ifB = `veb${suffix}`;
    await run('ip', [
      'link',
      'add',
      ifA,
      'netns',
      a.name,
      'type',
      'veth',
      'peer',
      'name',
      ifB,
      'netns',
      b.name,
    ]);
    const addrA = `10.250.${subnet}.1`;
    const addrB = `10.250.${subnet}.2`;
    await run('ip', ['-n', a.name, 'addr', 'add', `${addrA}/24`, 'dev', ifA]);
    await run('ip', ['-n', b.name, 'addr', 'add', `${addrB}/24`, 'dev', ifB]);
    await run('ip', ['-n', a.name, 'link', 'set', ifA, 'up']);
    await run('ip', ['-n', b.name, 'link', 'set', ifB, 'up']);
    const nsB = b;
    return {
      a,
      b: nsB,
      ifA,
      ifB,
      addrA,
      addrB,
      destroy: async () => {
        await a.destroy();
        await nsB.destroy();
      },
    };
  } catch (e) {
    await a.destroy();
    await b?.destroy();
    throw e;
  }
}

/**
 * Drop roughly `percent`% (steps of 0.01) of the UDP packets entering `ns`, and with `direction: 'both'`
 * (the default) of those leaving it too (nftables numgen; this kernel has no netem). A packet dropped on
 * the way out fails the sender's send() with EPERM; use 'in' on both ends of a link for loss the
 * senders cannot see, as on a wire.
 */
export async function addPacketLoss(
  ns: NetNs,
  percent: number,
  options: { direction?: 'in' | 'both' } = {},
): Promise<void> {
  const basisPoints = Math.round(percent * 100);
  const rule = `meta l4proto udp numgen random mod 10000 < ${basisPoints} drop;`;
  const out =
    options.direction === 'in'
      ? ''
      : `  chain out { type filter hook output priority 0; policy accept; ${rule} }\n`;
  const table = `table inet bramble_loss {
${out}  chain in { type filter hook input priority 0; policy accept; ${rule} }
}`;
  await ns.exec('nft', ['-f', '-'], { input: table });
}
