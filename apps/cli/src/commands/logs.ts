/** `bramble logs NODE [--follow]`: a node's boots step by step, from brambled's boot timeline. */
import type { BootView } from 'brambled';
import type { Command } from 'commander';
import { brambledUrl, fetchBoots } from '../brambled-api.js';
import { globals, outputFor } from '../context.js';
import { UsageError } from '../errors.js';
import { formatBytes, formatMs, type Output } from '../output.js';

const offset = (boot: BootView, at: number) => `+${((at - boot.startedAt) / 1000).toFixed(3)}s`.padStart(10);

/** The lines of one boot, each with a key that stays the same once the line is final. */
export function bootLines(out: Output, boot: BootView): { key: string; text: string }[] {
  const lines: { key: string; text: string }[] = [
    {
      key: `${boot.id}:start`,
      text: out.bold(
        `boot ${boot.id} of ${boot.node}, ${new Date(boot.startedAt).toLocaleString()} (by ${boot.startedBy})`,
      ),
    },
  ];
  boot.dhcp.forEach((d, i) => {
    lines.push({ key: `${boot.id}:dhcp:${i}`, text: `${offset(boot, d.at)}  DHCP ${d.kind} (${d.via})` });
  });
  boot.files.forEach((f, i) => {
    if (f.result === 'in-progress') return;
    const detail =
      f.result === 'complete'
        ? ` ${formatBytes(f.bytes)} in ${formatMs(f.durationMs ?? 0)}${f.rate ? ` (${formatBytes(f.rate)}/s)` : ''}`
        : '';
    const retx = f.retransmits > 0 ? `, ${f.retransmits} retransmits` : '';
    const colour = f.result === 'missing' || f.result === 'failed' ? out.red : (s: string) => s;
    lines.push({
      key: `${boot.id}:file:${i}`,
      text: `${offset(boot, f.endAt ?? f.at)}  ${f.file}: ${colour(f.result)}${detail}${retx}${f.error ? ` — ${f.error}` : ''}`,
    });
  });
  if (boot.filesDropped > 0)
    lines.push({
      key: `${boot.id}:dropped:${boot.filesDropped}`,
      text: `  (${boot.filesDropped} more files not kept)`,
    });
  if (boot.handoverAt !== undefined)
    lines.push({
      key: `${boot.id}:handover`,
      text: `${offset(boot, boot.handoverAt)}  ${out.green('kernel handed over')} (${boot.kernel}${boot.initramfs ? ` + ${boot.initramfs}` : ''}) after ${formatMs(boot.durationMs)}`,
    });
  if (boot.state === 'failed' && boot.failure)
    lines.push({
      key: `${boot.id}:failed`,
      text: `  ${out.red('failed')} (${boot.failure.stage}): ${boot.failure.reason}`,
    });
  if (boot.userspaceUpAt !== undefined)
    lines.push({ key: `${boot.id}:userspace`, text: `${offset(boot, boot.userspaceUpAt)}  userspace up` });
  return lines;
}

export function register(program: Command): void {
  program
    .command('logs')
    .description("a node's boots step by step (DHCP, each TFTP file, kernel handover, failures)")
    .argument('<node>', 'the node hostname')
    .option('-f, --follow', 'keep printing new steps as they happen (Ctrl-C to stop)')
    .option('-n, --boots <count>', 'how many recent boots to show', '1')
    .option('--url <url>', "brambled's HTTP endpoint (default: the manifest's http.listen; env BRAMBLE_URL)")
    .addHelpText('after', '\nExamples:\n  bramble logs rpi-k8s-01\n  bramble logs rpi-k8s-01 --follow')
    .action(async (node: string, o: { follow?: boolean; boots: string; url?: string }, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      const count = Number(o.boots);
      if (!Number.isInteger(count) || count < 1 || count > 100)
        throw new UsageError(`--boots: expected a number from 1 to 100, got '${o.boots}'`);
      const base = await brambledUrl(g, o.url);
      const recent = async () => (await fetchBoots(base, node)).slice(0, count).reverse();
      if (!o.follow) {
        const boots = await recent();
        if (g.json) return out.data(boots);
        if (boots.length === 0) return out.print(`${node}: no boots seen yet`);
        for (const boot of boots) for (const line of bootLines(out, boot)) out.print(line.text);
        return;
      }
      const printed = new Set<string>();
      for (;;) {
        const boots = await recent();
        const keys = new Set<string>();
        for (const boot of boots)
          for (const line of bootLines(out, boot)) {
            keys.add(line.key);
            if (printed.has(line.key)) continue;
            if (g.json) out.raw(`${JSON.stringify({ boot: boot.id, line: line.text })}\n`);
            else out.print(line.text);
          }
        // Only the lines of boots still kept are remembered (bounded).
        printed.clear();
        for (const key of keys) printed.add(key);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    });
}
