/** The Bramble TFTP server in its own process for the benchmark: prints its port, serves until SIGTERM. */
import { createServer, fsHandler } from '@bramble/tftp';

const root = process.argv[2];
if (!root) throw new Error('usage: bramble-server.ts <tftp root>');
const server = createServer({ handler: fsHandler(root) });
const { port } = await server.listen({ address: '127.0.0.1', port: 0 });
process.stdout.write(`PORT ${port}\n`);
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
