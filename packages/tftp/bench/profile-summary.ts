/** Summarise a V8 .cpuprofile: self time by function (top N). Usage: tsx bench/profile-summary.ts file [N] */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
export function summarise(path: string, top = 25): { total: number; rows: { fn: string; pct: number }[] } {
  const prof = JSON.parse(readFileSync(path, 'utf8')) as { nodes: Node[]; samples: number[] };
  const counts = new Map<number, number>();
  for (const s of prof.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const byFn = new Map<string, number>();
  for (const n of prof.nodes) {
    const c = counts.get(n.id) ?? 0;
    if (!c) continue;
    const url = n.callFrame.url.replace(/^.*\/(src|node_modules)\//, '$1/').replace(/^node:/, '');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + c);
  }
  const total = prof.samples.length;
  const rows = [...byFn.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, c]) => ({ fn, pct: Math.round((1000 * c) / total) / 10 }));
  return { total, rows };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '\0')) {
  const r = summarise(process.argv[2] ?? '', Number(process.argv[3] ?? 25));
  for (const row of r.rows) console.log(`${row.pct.toFixed(1).padStart(5)}%  ${row.fn}`);
}
