import { join } from 'node:path';
import { readDiscovered } from '@bramble/manifest';
import { definedOnly, modelFromDetected } from '@bramble/pi';
import type { Command } from 'commander';
import { commandContext, manifestFor } from '../../context.js';
import { CliError } from '../../errors.js';
import { addNode } from './add.js';

interface AdoptOptions {
  hostname: string;
  image: string;
  address?: string;
  model?: string;
}

export function registerAdopt(node: Command): void {
  node
    .command('adopt')
    .description('provision a Pi that asked to boot but is not in the manifest (see node ls --discovered)')
    .argument('<id>', 'its serial (or MAC) as listed by node ls --discovered')
    .requiredOption('--hostname <name>')
    .requiredOption('--image <name|file>')
    .option('--address <ip>')
    .option('--model <model>', 'override the detected model')
    .addHelpText('after', '\nExamples:\n  bramble node adopt 9ffefdef --hostname rpi-k8s-05 --image bookworm')
    .action(async (id: string, options: AdoptOptions, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      const manifest = await manifestFor(globalOptions);
      const wanted = id.toLowerCase();
      const found = (await readDiscovered(join(manifest.stateDir, 'discovered.json'))).find(
        (pi) => pi.id === wanted || pi.serial === wanted || pi.mac === wanted,
      );
      if (!found)
        throw new CliError('NOT_FOUND', `no discovered Pi '${id}': see bramble node ls --discovered`);
      await addNode(globalOptions, out, options.hostname, {
        image: options.image,
        ...definedOnly({
          serial: found.serial || undefined,
          mac: found.mac || undefined,
          model: (options.model ?? modelFromDetected(found.model)) || undefined,
          address: options.address || undefined,
        }),
      });
    });
}
