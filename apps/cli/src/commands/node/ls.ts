import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type LoadedManifest, readDiscovered } from '@bramble/manifest';
import { tftpDirName } from '@bramble/pi';
import type { Command } from 'commander';
import { commandContext, manifestFor } from '../../context.js';
import type { Output } from '../../output.js';

export function registerLs(node: Command): void {
  node
    .command('ls')
    .description('list the nodes of the manifest (or with --discovered, unknown Pis that asked to boot)')
    .option('--discovered', 'list Pis brambled saw that are not in the manifest')
    .addHelpText('after', '\nExamples:\n  bramble node ls\n  bramble node ls --discovered --json')
    .action(async (options: { discovered?: boolean }, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      const manifest = await manifestFor(globalOptions);
      if (options.discovered) return listDiscovered(manifest, out);
      listNodes(manifest, out);
    });
}

/** Pis brambled saw asking to boot that the manifest does not know (by serial or MAC). */
async function listDiscovered(manifest: LoadedManifest, out: Output): Promise<void> {
  const known = new Set(
    manifest.manifest.nodes.flatMap((entry) => [entry.serial, entry.mac].filter((id): id is string => !!id)),
  );
  const rows = (await readDiscovered(join(manifest.stateDir, 'discovered.json'))).filter(
    (pi) => !(pi.serial && known.has(pi.serial)) && !(pi.mac && known.has(pi.mac)),
  );
  out.table(
    rows,
    [
      { key: 'id', header: 'ID' },
      { key: 'model', header: 'MODEL' },
      { key: 'address', header: 'ADDRESS' },
      { key: 'via', header: 'VIA' },
      { key: 'mac', header: 'MAC' },
      { key: 'lastSeen', header: 'LAST SEEN' },
      { key: 'requests', header: 'REQUESTS', align: 'right' },
    ],
    { empty: 'no unknown Pis have asked to boot' },
  );
}

function listNodes(manifest: LoadedManifest, out: Output): void {
  const rows = manifest.manifest.nodes.map((entry) => ({
    hostname: entry.hostname,
    serial: entry.serial,
    mac: entry.mac,
    model: entry.model,
    image: entry.image,
    address: entry.address,
    provisioned:
      existsSync(join(manifest.tftpRoot, tftpDirName(entry))) &&
      existsSync(join(manifest.nfsRoot, entry.hostname)),
  }));
  out.table(
    rows,
    [
      { key: 'hostname', header: 'HOSTNAME' },
      { key: 'serial', header: 'SERIAL' },
      { key: 'mac', header: 'MAC' },
      { key: 'model', header: 'MODEL' },
      { key: 'image', header: 'IMAGE' },
      { key: 'address', header: 'ADDRESS' },
      { key: 'provisioned', header: 'PROVISIONED', format: (value) => (value ? 'yes' : 'no') },
    ],
    { empty: 'no nodes: add one with bramble node add' },
  );
}
