/** `bramble status`: the fleet as brambled sees it — one row per node, and the unknown Pis knocking. */
import type { NodeStatus } from 'brambled';
import type { Command } from 'commander';
import { brambledUrl, fetchFleet } from '../brambled-api.js';
import { globals, outputFor } from '../context.js';
import { formatMs, type Output } from '../output.js';

interface StatusRow {
  node: string;
  model: string;
  serial: string;
  address: string;
  state: string;
  lastBoot: string;
  duration: string;
  detail: string;
}

const clock = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toLocaleString());

function paintState(out: Output, state: NodeStatus['state']): string {
  if (state === 'up') return out.green('up');
  if (state === 'failed') return out.red('failed');
  if (state === 'booting') return out.yellow('booting');
  return out.dim('never seen');
}

export function statusRow(out: Output, n: NodeStatus): StatusRow {
  return {
    node: n.node,
    model: n.model ?? '-',
    serial: n.serial ?? n.mac ?? '-',
    address: n.address ?? '-',
    state: paintState(out, n.state),
    lastBoot: clock(n.lastBootAt),
    duration: n.lastBootMs === undefined ? '-' : formatMs(n.lastBootMs),
    detail: n.failure?.reason ?? (n.userspaceUpAt ? `userspace up ${clock(n.userspaceUpAt)}` : ''),
  };
}

export function register(program: Command): void {
  program
    .command('status')
    .description("the fleet as brambled sees it: each node's state and last boot, unknown Pis knocking")
    .option('--url <url>', "brambled's HTTP endpoint (default: the manifest's http.listen; env BRAMBLE_URL)")
    .addHelpText(
      'after',
      '\nExamples:\n  bramble status\n  bramble status --json --url http://127.0.0.1:9469',
    )
    .action(async (o: { url?: string }, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      const fleet = await fetchFleet(await brambledUrl(g, o.url));
      if (g.json) return out.data(fleet);
      out.table(
        fleet.nodes.map((n) => statusRow(out, n)),
        [
          { key: 'node', header: 'NODE' },
          { key: 'model', header: 'MODEL' },
          { key: 'serial', header: 'SERIAL' },
          { key: 'address', header: 'ADDRESS' },
          { key: 'state', header: 'STATE' },
          { key: 'lastBoot', header: 'LAST BOOT' },
          { key: 'duration', header: 'DURATION', align: 'right' },
          { key: 'detail', header: 'DETAIL' },
        ],
        { empty: '(no nodes in the manifest)' },
      );
      if (fleet.unknown.length > 0) {
        out.print('');
        out.print(out.bold('Unknown Pis knocking:'));
        for (const pi of fleet.unknown) out.print(`  ${pi.model} ${pi.id} at ${pi.address}:  ${pi.adopt}`);
      }
    });
}
