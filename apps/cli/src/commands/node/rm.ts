import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tftpDirName } from '@bramble/pi';
import type { Command } from 'commander';
import { confirm } from '../../confirm.js';
import { commandContext, editManifest, manifestFor } from '../../context.js';
import { CliError } from '../../errors.js';

export function registerRm(node: Command): void {
  node
    .command('rm')
    .description('remove a node from the manifest and delete its TFTP and NFS trees')
    .argument('<hostname>')
    .option('--keep-files', 'only edit the manifest')
    .addHelpText('after', '\nExamples:\n  bramble node rm rpi-k8s-04 --yes')
    .action(async (hostname: string, options: { keepFiles?: boolean }, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      const manifest = await manifestFor(globalOptions);
      const index = manifest.manifest.nodes.findIndex((entry) => entry.hostname === hostname);
      const entry = manifest.manifest.nodes[index];
      if (!entry) throw new CliError('NOT_FOUND', `no node '${hostname}' in ${globalOptions.config}`);
      const dirs = options.keepFiles
        ? []
        : [join(manifest.tftpRoot, tftpDirName(entry)), join(manifest.nfsRoot, entry.hostname)];
      const question = `remove ${hostname}${dirs.length ? ` and delete ${dirs.join(' and ')}` : ''}?`;
      if (!(await confirm(question, globalOptions))) return out.print('nothing removed');
      await editManifest(globalOptions.config, (doc) => {
        doc.deleteIn(['nodes', index]);
      });
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
      out.print(`removed ${hostname}`);
    });
}
