import type { LoadedManifest } from '@bramble/manifest';
import { type Command, Option } from 'commander';
import { confirm } from '../confirm.js';
import { globals, manifestFor, outputFor } from '../context.js';
import type { Output } from '../output.js';
import { loadBootTree } from '../packages.js';
import { readLayouts } from '../store.js';
import { subnetOf } from './dhcp.js';

/** Clients for nodes without an address: the DHCP subnet of the manifest (never `*`). */
export function exportScope(manifest: LoadedManifest): { defaultClients: string } {
  const { network, netmask } = subnetOf(manifest.manifest.dhcp.subnet, manifest.manifest.server.address);
  const bits = netmask
    .split('.')
    .reduce((count, octet) => count + (Number(octet).toString(2).match(/1/g)?.length ?? 0), 0);
  return { defaultClients: `${network}/${bits}` };
}

export async function nfsConfigText(
  manifest: LoadedManifest,
  format: string,
  out?: Output,
  ganesha: { graceless?: boolean; recoveryRoot?: string } = {},
): Promise<string> {
  const bt = await loadBootTree();
  const read = await readLayouts(manifest);
  const { missing } = read;
  if (missing.length > 0)
    out?.warn(`not provisioned yet, left out: ${missing.join(', ')} (bramble node add / bramble node adopt)`);
  // Old shared-root bases stay exported (read-only) until `image prune`: nodes run on them until they reboot.
  const layouts = await bt.withOlderBases(read.layouts);
  if (format === 'ganesha') return bt.ganeshaConfig(layouts, { ...exportScope(manifest), ...ganesha });
  if (format === 'compose') {
    for (const w of bt.composeWarnings(layouts)) out?.warn(w);
    return bt.composeFile(layouts, { tftpRoot: manifest.tftpRoot, nfsRoot: manifest.nfsRoot });
  }
  return bt.exportsFile(layouts, exportScope(manifest));
}

export function register(program: Command): void {
  const nfs = program
    .command('nfs')
    .description('NFS exports for the nodes’ roots')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble nfs config --format ganesha\n  sudo bramble nfs apply --yes',
    );
  nfs
    .command('config')
    .description('print the NFS server configuration exporting every node root')
    .addOption(new Option('--format <format>', 'output').choices(['exports', 'ganesha', 'compose']))
    .option('--graceless', 'ganesha: skip the NFSv4 grace period (single server, tests)')
    .option('--recovery-root <dir>', 'ganesha: keep NFSv4 recovery state in this directory')
    .addHelpText(
      'after',
      `
Examples:
  bramble nfs config --format exports > /etc/exports.d/bramble.exports
  bramble nfs config --format ganesha > /etc/ganesha/ganesha.conf
  bramble nfs config --format compose > docker-compose.yaml`,
    )
    .action(
      async (options: { format?: string; graceless?: boolean; recoveryRoot?: string }, cmd: Command) => {
        const globalOptions = globals(cmd);
        const manifest = await manifestFor(globalOptions);
        const kind =
          options.format ??
          (manifest.manifest.nfs.kind === 'kernel' ? 'exports' : manifest.manifest.nfs.kind);
        const out = outputFor(globalOptions);
        out.raw(
          await nfsConfigText(manifest, kind, out, {
            ...(options.graceless ? { graceless: true } : {}),
            ...(options.recoveryRoot ? { recoveryRoot: options.recoveryRoot } : {}),
          }),
        );
      },
    );
  nfs
    .command('apply')
    .description('write the kernel NFS server exports (exports.d) and run exportfs -ra')
    .addHelpText('after', '\nExamples:\n  sudo bramble nfs apply --yes')
    .action(async (_o: unknown, cmd: Command) => {
      const globalOptions = globals(cmd);
      const out = outputFor(globalOptions);
      const manifest = await manifestFor(globalOptions);
      if (!(await confirm('write /etc/exports.d/bramble.exports and run exportfs -ra?', globalOptions)))
        return;
      const bt = await loadBootTree();
      const { layouts, missing } = await readLayouts(manifest);
      if (missing.length > 0) out.warn(`not provisioned yet, left out: ${missing.join(', ')}`);
      const r = await bt.applyKernelExports(layouts, exportScope(manifest));
      out.print(
        `wrote ${r.file}${r.reloaded ? ' and ran exportfs -ra' : ' (no kernel NFS server here: exportfs not found)'}`,
      );
    });
}
