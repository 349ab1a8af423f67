/** Quick single-client check: lock-step vs windowsize 16 against Bramble in a child process (5 interleaved runs). */
import { spawn } from 'node:child_process';
import { download } from '../src/index.js';

const root = process.argv[2] ?? '/tmp/wtest';
const file = process.argv[3] ?? 'k9';
const srv = spawn(process.execPath, [`${import.meta.dirname}/server.mjs`, root, '127.0.0.1', '0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise<number>((r) =>
  srv.stdout?.on('data', (b: Buffer) => {
    const m = /ready (\d+)/.exec(b.toString());
    if (m) r(Number(m[1]));
  }),
);
for (let i = 0; i < 5; i++)
  for (const w of [undefined, 16]) {
    const t = performance.now();
    const st = await download('127.0.0.1', file, () => {}, {
      port,
      blksize: 1024,
      tsize: true,
      ...(w ? { windowsize: w } : {}),
    });
    const ms = performance.now() - t;
    console.log(`window ${w ?? 1}: ${(st.bytes / 1e3 / ms).toFixed(1)} MB/s, retransmits ${st.retransmits}`);
  }
srv.kill('SIGTERM');
