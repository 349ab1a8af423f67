/**
 * brambled for a storm, in its own network namespace (a child process: the virtual Pis must not share
 * its event loop). Prints `READY`; on the stdin line `report` prints `REPORT <json>` (pacing, every
 * node's boots, counters); on `stop` (or stdin closing) it stops.
 *   tsx server.ts <bramble.yaml>
 */
import { createInterface } from 'node:readline';
import { startDaemon } from '../../src/index.js';

const manifestPath = process.argv[2];
if (!manifestPath) throw new Error('usage: server.ts <bramble.yaml>');
const daemon = await startDaemon({
  manifestPath,
  watch: false,
  httpListen: false,
  dhcpPort: 67,
  pxePort: false,
});

function report() {
  const nodes = daemon.manifest.manifest.nodes.map((node) => ({
    node: node.hostname,
    boots: daemon.timeline.boots(node.hostname) ?? [],
  }));
  return {
    pacing: daemon.pacing(),
    nodes: nodes.map(({ node, boots }) => ({
      node,
      boots: boots.map((boot) => ({
        state: boot.state,
        startedAt: boot.startedAt,
        firstDiscoverAt: boot.dhcp.find((step) => step.kind === 'discover')?.at,
        firstOfferAt: boot.dhcp.find((step) => step.kind === 'offer')?.at,
        handoverAt: boot.handoverAt,
        lastFileEndAt: Math.max(0, ...boot.files.map((file) => file.endAt ?? file.at)),
        retransmits: boot.files.reduce((sum, file) => sum + file.retransmits, 0),
      })),
    })),
    counters: {
      tftpRequests: daemon.metrics.requests,
      tftpRetransmits: daemon.metrics.retransmits,
      tftpFailed: daemon.metrics.transfers.failed,
      dhcpClients: daemon.metrics.dhcpClients,
      dhcpOffers: daemon.metrics.dhcpOffers,
    },
  };
}

const lines = createInterface({ input: process.stdin });
let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await daemon.close({ deadlineMs: 1000 });
  process.exit(0);
}
lines.on('line', (line) => {
  if (line === 'report') process.stdout.write(`REPORT ${JSON.stringify(report())}\n`);
  if (line === 'stop') void stop();
});
lines.on('close', () => void stop());
process.stdout.write('READY\n');
