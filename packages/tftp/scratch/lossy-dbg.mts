import { createVethPair, addPacketLoss, startPeer, waitFor } from '@bramble/testkit';
import { execa } from 'execa';
const link = await createVethPair('dbg');
try {
  await addPacketLoss(link.b, 10);
  const server = startPeer([...link.a.prefix, process.execPath, '--import', 'tsx', 'test/fixtures/lossy-server.ts', '/tmp/tftpsmoke', link.addrA]);
  let port = 0;
  server.proc.stdout?.on('data', (b: Buffer) => { for (const l of b.toString().split('\n')) { if (!l) continue; console.log('srv', l); try { const j = JSON.parse(l); if (j.ready) port = j.port; } catch {} } });
  await waitFor(() => port > 0, 30000).catch(() => console.log(server.output()));
  const r = await execa('ip', ['netns', 'exec', link.b.name, 'tftp', link.addrA, String(port), '-v', '-m', 'binary', '-c', 'get', 'f513', '/tmp/tftpsmoke/lossy.out'], { reject: false, timeout: 60000 });
  console.log(r.exitCode, r.stdout, r.stderr);
  const r2 = await execa('ip', ['netns', 'exec', link.b.name, process.execPath, '--import', 'tsx', 'test/fixtures/lossy-client.ts', link.addrA, String(port), 'f513', '1024', '1'], { reject: false, timeout: 60000 });
  console.log(r2.exitCode, r2.stdout, r2.stderr.slice(0, 2000));
  await server.stop();
  console.log(server.output().slice(0, 2000));
} finally { await link.destroy(); }
