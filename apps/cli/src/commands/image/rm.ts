import { rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { confirm } from '../../confirm.js';
import { commandContext, editManifest, manifestFor } from '../../context.js';
import { CliError } from '../../errors.js';
import { storedImage } from '../../store.js';

export function registerRm(image: Command): void {
  image
    .command('rm')
    .description('remove an image from the manifest and delete its extraction')
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
      const stored = storedImage(manifest, name);
      if (!(await confirm(`remove image ${name} and delete ${stored.dir}?`, globalOptions)))
        return out.print('nothing removed');
      await editManifest(globalOptions.config, (doc) => {
        doc.deleteIn(['images', name]);
      });
      await rm(stored.dir, { recursive: true, force: true });
      out.print(`removed image ${name}`);
    });
}
