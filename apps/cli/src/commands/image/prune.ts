/**
 * `bramble image prune [NAME]`: delete the old bases `image update` left (NAME and NAME@<time> store
 * directories) that no node's layout or cmdline.txt names any more; the current base is always kept.
 * The rule and the two-phase removal are @bramble/boot-tree's (pruneBases); this composes it.
 */
import type { Command } from 'commander';
import { commandContext, manifestFor } from '../../context.js';
import { UsageError } from '../../errors.js';
import type { Output } from '../../output.js';
import { loadBootTree, type PruneResult } from '../../packages.js';
import { readLayouts } from '../../store.js';

export function registerPrune(image: Command): void {
  image
    .command('prune')
    .description('delete old bases of shared-root images that no node uses any more')
    .argument('[name]', 'an image of the manifest (default: all of them)')
    .option('--dry-run', 'list what would be deleted; delete nothing')
    .addHelpText(
      'after',
      '\nNodes still running on an old base use it until they reboot: prune after they did.\n\nExamples:\n  bramble image prune --dry-run\n  bramble image prune bookworm --json',
    )
    .action(async (name: string | undefined, options: { dryRun?: boolean }, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      const manifest = await manifestFor(globalOptions);
      if (name !== undefined && !(name in manifest.manifest.images))
        throw new UsageError(`no image '${name}' in the manifest (bramble image ls)`);
      const bootTree = await loadBootTree();
      const { layouts } = await readLayouts(manifest);
      const result = await bootTree.pruneBases({
        imagesDir: manifest.imagesDir,
        images: name === undefined ? Object.keys(manifest.manifest.images) : [name],
        users: await bootTree.baseUsers(layouts),
        dryRun: options.dryRun ?? false,
      });
      if (globalOptions.json) out.data({ dryRun: options.dryRun ?? false, ...result });
      else printResult(out, result, options.dryRun ?? false);
    });
}

function printResult(out: Output, result: PruneResult, dryRun: boolean): void {
  for (const base of result.removed) out.print(`${dryRun ? 'would delete' : 'deleted'} ${base.dir}`);
  for (const dir of result.finished) out.print(`finished an interrupted deletion: ${dir}`);
  for (const base of result.kept) {
    const why = [base.current ? 'current' : '', base.usedBy.length ? `used by ${base.usedBy.join(', ')}` : '']
      .filter(Boolean)
      .join('; ');
    out.print(`kept ${base.dir} (${why})`);
  }
  if (result.removed.length === 0) out.print('no unused base to delete');
}
