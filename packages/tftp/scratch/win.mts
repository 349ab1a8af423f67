import { createServer, fsHandler, fetchFile, probeSize } from '../src/index.ts';
const s = createServer({ handler: fsHandler('/tmp/tftpsmoke'), timeoutMs: 300, retries: 2 });
for (const ev of ['complete','failed','aborted'] as const) s.on(ev, (e) => console.log('  ', ev, e.file, e.blocks, e.bytes, e.retransmits, e.options, e.error?.message));
const a = await s.listen({ address: '127.0.0.1', port: 0 });
for (const w of [16, 4]) {
const r = await fetchFile('127.0.0.1', 'f3m', { port: a.port, blksize: 1468, windowsize: w });
console.log('client', r.stats);
await new Promise((r) => setTimeout(r, 1500));
}
console.log(await probeSize('127.0.0.1', 'f3m', { port: a.port, blksize: 1024 }));
await new Promise((r) => setTimeout(r, 500));
await s.close();
