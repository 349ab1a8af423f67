import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { download } from '../src/index.js';
const w = Number(process.argv[2] ?? '16');
const reps = Number(process.argv[3] ?? '5');
const srv = spawn(process.execPath, [...(process.env.SPROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/perfexp/sprof'] : []), `${import.meta.dirname}/server.mjs`, '/tmp/wtest', '127.0.0.1', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((r) => srv.stdout?.on('data', (b: Buffer) => { const m = /ready (\d+)/.exec(b.toString()); if (m) r(Number(m[1])); }));
const scpu = () => { const f = readFileSync(`/proc/${srv.pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
await download('127.0.0.1', 'k9', () => {}, { port, blksize: 1024, tsize: true });
for (let i = 0; i < reps; i++) {
  const c0 = process.cpuUsage(); const s0 = scpu(); const t = performance.now();
  const st = await download('127.0.0.1', 'k9', () => {}, { port, blksize: 1024, tsize: true, ...(w > 1 ? { windowsize: w } : {}) });
  const ms = performance.now() - t; const c = process.cpuUsage(c0); const s1 = scpu();
  const blocks = st.blocks;
  console.log(`w${w}: ${(st.bytes / 1e3 / ms).toFixed(1)} MB/s  client ${(((c.user + c.system) / blocks)).toFixed(1)} us/blk  server ${(((s1 - s0) * 1e6) / blocks).toFixed(1)} us/blk  wall ${((ms * 1000) / blocks).toFixed(1)} us/blk rt ${st.retransmits}`);
}
srv.kill('SIGTERM');
