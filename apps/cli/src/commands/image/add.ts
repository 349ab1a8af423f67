import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { commandContext, editManifest, manifestFor } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';
import { ensureExtracted, storedImage } from '../../store.js';

export function registerAdd(image: Command): void {
  image
    .command('add')
    .description('add an image to the manifest and extract it into the image store')
    .argument('<name>', 'name the nodes refer to')
    .argument('<file>', '.img, .img.xz, .zip or .img.gz')
    .option('--no-extract', 'only record it; extract when a node needs it')
    .option('--force', 'extract again even if an up-to-date extraction exists')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble image add bookworm ./2024-11-19-raspios-bookworm-arm64-lite.img.xz',
    )
    .action(
      async (name: string, file: string, options: { extract: boolean; force?: boolean }, cmd: Command) => {
        const { globalOptions, out } = commandContext(cmd);
        if (!/^[a-zA-Z0-9._-]+$/.test(name))
          throw new UsageError(`image name '${name}' may only hold letters, digits, . _ -`);
        if (!existsSync(file)) throw new CliError('NOT_FOUND', `image file ${file} does not exist`);
        await manifestFor(globalOptions);
        const config = globalOptions.config;
        const manifest = await editManifest(config, (doc) => {
          const rel = relative(resolve(config, '..'), resolve(file));
          doc.setIn(['images', name], rel.startsWith('..') ? resolve(file) : `./${rel}`);
        });
        out.print(`added image ${name} (${file})`);
        if (options.extract)
          await ensureExtracted(storedImage(manifest, name), out, { force: options.force ?? false });
      },
    );
}
