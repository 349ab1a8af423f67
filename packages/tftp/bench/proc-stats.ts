/** /proc sampling for the benchmark: CPU seconds and peak RSS/PSS of a process tree (Linux only). */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

interface Stat {
  ppid: number;
  ticks: number; // utime + stime
  childTicks: number; // cutime + cstime (reaped children)
}

function readStat(pid: number): Stat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after "comm": state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return {
      ppid: Number(f[1]),
      ticks: Number(f[11]) + Number(f[12]),
      childTicks: Number(f[13]) + Number(f[14]),
    };
  } catch {
    return undefined;
  }
}

function readKb(pid: number, file: string, key: string): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The process and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const st = readStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  const out = [root];
  for (let i = 0; i < out.length && i < 100_000; i++)
    for (const c of children.get(out[i] as number) ?? []) out.push(c);
  return out;
}

/** CPU seconds used so far by the tree (live members + reaped children). */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  const tree = processTree(root);
  for (const pid of tree) {
    const st = readStat(pid);
    if (!st) continue;
    ticks += st.ticks + (pid === root ? st.childTicks : 0);
  }
  return ticks / TICKS;
}

export function treeMemoryMb(root: number): { rssMb: number; pssMb: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of processTree(root)) {
    rss += readKb(pid, 'status', 'VmRSS');
    pss += readKb(pid, 'smaps_rollup', 'Pss');
  }
  return { rssMb: rss / 1024, pssMb: pss / 1024 };
}

/** Sample peak memory of a tree every `everyMs` until stopped. */
export function memorySampler(
  root: number,
  everyMs = 100,
): { stop(): { peakRssMb: number; peakPssMb: number } } {
  let peakRssMb = 0;
  let peakPssMb = 0;
  const sample = () => {
    const m = treeMemoryMb(root);
    peakRssMb = Math.max(peakRssMb, m.rssMb);
    peakPssMb = Math.max(peakPssMb, m.pssMb);
  };
  sample();
  const t = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(t);
      sample();
      return { peakRssMb: Math.round(peakRssMb * 10) / 10, peakPssMb: Math.round(peakPssMb * 10) / 10 };
    },
  };
}

/**
 * CPU seconds of a process tree over an interval, including short-lived children that are auto-reaped
 * (tftpd-hpa ignores SIGCHLD, so their time never reaches the parent's cutime): every member's time is
 * sampled every `everyMs` and the last value seen counts. A child's last `everyMs` of work can be missed,
 * so forking servers are slightly under-counted.
 */
export function cpuTracker(root: number, everyMs = 25): { stop(): number } {
  const seen = new Map<number, number>();
  const base = new Map<number, number>();
  let rootChild0 = -1;
  let rootChild = 0;
  const sample = (first: boolean) => {
    for (const pid of processTree(root)) {
      const st = readStat(pid);
      if (!st) continue;
      if (first) base.set(pid, st.ticks);
      seen.set(pid, st.ticks);
      if (pid === root) {
        if (rootChild0 < 0) rootChild0 = st.childTicks;
        rootChild = st.childTicks;
      }
    }
  };
  sample(true);
  const t = setInterval(() => sample(false), everyMs);
  return {
    stop() {
      clearInterval(t);
      sample(false);
      let ticks = rootChild - Math.max(0, rootChild0);
      for (const [pid, v] of seen) ticks += v - (base.get(pid) ?? 0);
      return ticks / TICKS;
    },
  };
}

/** User and kernel CPU seconds of one process so far (not its children): where a server's time goes. */
export function userSysSeconds(pid: number): { user: number; sys: number } {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]) / TICKS, sys: Number(f[12]) / TICKS };
  } catch {
    return { user: 0, sys: 0 };
  }
}
