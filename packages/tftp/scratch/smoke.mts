import { createServer, fsHandler, fetchFile, probeSize, put } from '/work/main/packages/tftp/src/index.ts';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
const s = createServer({ handler: fsHandler('/tmp/tftpsmoke'), writeHandler: async () => (await import('node:fs')).createWriteStream('/tmp/tftpsmoke/upload.out') });
s.on('failed', (e) => console.log('failed', e.file, e.error?.message));
const a = await s.listen({ address: '127.0.0.1', port: 0 });
console.log(a);
for (const f of ['f3m', 'f513', 'empty']) {
  for (const bs of [undefined, 1024, 65464]) {
    const r = await fetchFile('127.0.0.1', f, { port: a.port, ...(bs ? { blksize: bs, tsize: true } : {}) });
    console.log(f, bs, r.data.equals(readFileSync('/tmp/tftpsmoke/' + f)), r.stats.durationMs.toFixed(1), r.stats.options);
  }
}
const w = await fetchFile('127.0.0.1', 'f3m', { port: a.port, blksize: 1468, windowsize: 16 });
console.log('win16', w.data.equals(readFileSync('/tmp/tftpsmoke/f3m')), w.stats.durationMs.toFixed(1));
console.log(await probeSize('127.0.0.1', 'f3m', { port: a.port, blksize: 1024 }));
try { await fetchFile('127.0.0.1', 'nope', { port: a.port }); } catch (e) { console.log('err', (e as Error).message); }
const st = await put('127.0.0.1', 'x', readFileSync('/tmp/tftpsmoke/f3m'), { port: a.port, blksize: 1024, tsize: true });
await new Promise((r) => setTimeout(r, 100));
console.log('put', st.bytes, readFileSync('/tmp/tftpsmoke/upload.out').equals(readFileSync('/tmp/tftpsmoke/f3m')));
const r = await execa('tftp', ['127.0.0.1', String(a.port), '-m', 'binary', '-c', 'get', 'f3m', '/tmp/tftpsmoke/hpa.out']);
console.log('hpa', readFileSync('/tmp/tftpsmoke/hpa.out').equals(readFileSync('/tmp/tftpsmoke/f3m')));
const r2 = await execa('atftp', ['--option', 'windowsize 8', '--option', 'blksize 1024', '-g', '-r', 'f3m', '-l', '/tmp/tftpsmoke/atftp.out', '127.0.0.1', String(a.port)], {reject:false});
console.log('atftp', r2.exitCode, r2.stderr.slice(0,200), readFileSync('/tmp/tftpsmoke/atftp.out').equals(readFileSync('/tmp/tftpsmoke/f3m')));
const r3 = await execa('curl', ['-s', '--tftp-blksize', '1468', '-o', '/tmp/tftpsmoke/curl.out', `tftp://127.0.0.1:${a.port}/f3m`], {reject:false});
console.log('curl', r3.exitCode, readFileSync('/tmp/tftpsmoke/curl.out').equals(readFileSync('/tmp/tftpsmoke/f3m')));
const r4 = await execa('busybox', ['tftp', '-g', '-r', 'f3m', '-l', '/tmp/tftpsmoke/bb.out', '-b', '1024', '127.0.0.1', String(a.port)], {reject:false});
console.log('busybox', r4.exitCode, r4.stderr, readFileSync('/tmp/tftpsmoke/bb.out').equals(readFileSync('/tmp/tftpsmoke/f3m')));
await s.close();
