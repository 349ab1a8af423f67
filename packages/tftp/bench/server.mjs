// Bramble's server as a child process of the benchmark, so its CPU and RSS are read from /proc like the peers'.
// argv: root address port. Prints "ready <port>"; SIGTERM closes it. Uses the built package (dist/).
// BRAMBLE_BENCH_ENGINE (auto|native|js) and BRAMBLE_BENCH_PUMP_THREADS pick the data path.
import { createServer, fsHandler } from '../dist/index.js';

const [root = '.', address = '127.0.0.1', port = '0'] = process.argv.slice(2);
const server = createServer({
  handler: fsHandler(root),
  maxTransfers: 4096,
  maxTransfersPerClient: 4096,
  timeoutMs: 1000,
  engine: process.env.BRAMBLE_BENCH_ENGINE ?? 'auto',
  ...(process.env.BRAMBLE_BENCH_PUMP_THREADS
    ? { pumpThreads: Number(process.env.BRAMBLE_BENCH_PUMP_THREADS) }
    : {}),
});
console.error(`bramble engine: ${server.engine}`);
const counts = { complete: 0, aborted: 0, failed: 0 };
for (const k of Object.keys(counts)) server.on(k, () => counts[k]++);
const a = await server.listen({ address, port: Number(port) });
console.log(`ready ${a.port}`);
const stop = async () => {
  await server.close({ deadlineMs: 1000 });
  console.error(`bramble server events: ${JSON.stringify(counts)}`);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
