import type { Command } from 'commander';
import { commandContext, manifestFor } from '../../context.js';
import { provision } from '../../store.js';
import { requireNodes } from './check.js';

export function registerProvision(node: Command): void {
  node
    .command('provision')
    .description('(re)lay out the TFTP and NFS trees of nodes already in the manifest (idempotent)')
    .argument('[hostname...]', 'nodes to provision (default: all)')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble node provision            # after editing bramble.yaml by hand\n  bramble node provision rpi-k8s-02',
    )
    .action(async (hostnames: string[], _options: unknown, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      const manifest = await manifestFor(globalOptions);
      requireNodes(manifest, hostnames);
      for (const entry of manifest.manifest.nodes) {
        if (hostnames.length > 0 && !hostnames.includes(entry.hostname)) continue;
        const layout = await provision(manifest, entry, out);
        out.print(`${out.green('✓')} ${entry.hostname}: ${layout.changes.length} change(s)`);
      }
    });
}
