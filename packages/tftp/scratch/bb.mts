import { createServer, fsHandler } from '../src/index.ts';
import { execa } from 'execa';
const s = createServer({ handler: fsHandler('/tmp/tftpsmoke'), timeoutMs: 300, retries: 2 });
for (const ev of ['start','complete','failed','aborted'] as const) s.on(ev, (e) => console.log(ev, e.file, e.blocks, e.bytes, e.options, e.error?.message));
const a = await s.listen({ address: '127.0.0.1', port: 0 });
const r4 = await execa('busybox', ['tftp', '-g', '-r', process.argv[2] ?? 'f513', '-l', '/tmp/tftpsmoke/bb.out', '-b', '1024', '127.0.0.1', String(a.port)], {reject:false});
console.log(r4.exitCode);
await new Promise((r) => setTimeout(r, 1500));
await s.close();
