import { createServer, fsHandler } from '../src/index.ts';
import { execa } from 'execa';
const s = createServer({ handler: fsHandler('/tmp/tftpsmoke'), timeoutMs: 300, retries: 2 });
for (const ev of ['complete','failed','aborted'] as const) s.on(ev, (e) => console.log('  ', ev, e.file, e.blocks, e.bytes, e.retransmits, e.options, e.error?.message));
const a = await s.listen({ address: '127.0.0.1', port: 0 });
const f = process.argv[2] ?? 'f513';
const P = String(a.port);
const cmds: Record<string, string[]> = {
  hpa: ['tftp', '127.0.0.1', P, '-m', 'binary', '-c', 'get', f, '/tmp/tftpsmoke/o1'],
  atftp: ['atftp', '--option', 'windowsize 8', '--option', 'blksize 1024', '-g', '-r', f, '-l', '/tmp/tftpsmoke/o2', '127.0.0.1', P],
  curl: ['curl', '-s', '--tftp-blksize', '1468', '-o', '/tmp/tftpsmoke/o3', `tftp://127.0.0.1:${P}/${f}`],
  bb: ['busybox', 'tftp', '-g', '-r', f, '-l', '/tmp/tftpsmoke/o4', '-b', '1024', '127.0.0.1', P],
};
for (const [k, c] of Object.entries(cmds)) {
  const t = performance.now();
  const r = await execa(c[0]!, c.slice(1), { reject: false });
  console.log(k, r.exitCode, (performance.now() - t).toFixed(0), 'ms');
  await new Promise((r) => setTimeout(r, 1500));
}
await s.close();
