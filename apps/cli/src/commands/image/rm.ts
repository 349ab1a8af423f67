import type { Command } from 'commander';
import { confirm } from '../../confirm.js';
import { commandContext, editManifest, manifestFor } from '../../context.js';
import { CliError } from '../../errors.js';
import { loadBootTree } from '../../packages.js';
import { readLayouts } from '../../store.js';

export function registerRm(image: Command): void {
  image
    .command('rm')
    .description('remove an image from the manifest and delete its extraction (every base of it)')
    .argument('<name>')
    .addHelpText('after', '\nExamples:\n  bramble image rm bullseye --yes')
    .action(async (name: string, _options: unknown, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      const manifest = await manifestFor(globalOptions);
      if (!(name in manifest.manifest.images))
        throw new CliError('NOT_FOUND', `no image '${name}' in ${globalOptions.config}`);
      const users = manifest.manifest.nodes
        .filter((entry) => entry.image === name)
        .map((entry) => entry.hostname);
      if (users.length > 0)
        throw new CliError(
          'IN_USE',
          `image ${name} is used by ${users.join(', ')}: remove those nodes first`,
        );
      const bootTree = await loadBootTree();
      const baseUsers = await bootTree.baseUsers((await readLayouts(manifest)).layouts);
      // Refuses (IN_USE) before asking when any node still names one of its bases.
      const bases = await bootTree.listBases(manifest.imagesDir, name, baseUsers);
      const used = bases.filter((base) => base.usedBy.length > 0);
      if (used.length > 0)
        throw new CliError(
          'IN_USE',
          `image ${name}: ${used.map((base) => `${base.dir} is used by ${base.usedBy.join(', ')}`).join('; ')}`,
        );
      const dirs = bases.map((base) => base.dir).join(', ') || 'no extraction';
      if (!(await confirm(`remove image ${name} and delete ${dirs}?`, globalOptions)))
        return out.print('nothing removed');
      await bootTree.removeImageBases(manifest.imagesDir, name, baseUsers);
      await editManifest(globalOptions.config, (doc) => {
        doc.deleteIn(['images', name]);
      });
      out.print(`removed image ${name}${bases.length ? ` (deleted ${dirs})` : ''}`);
    });
}
