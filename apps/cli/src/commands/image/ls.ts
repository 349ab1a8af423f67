import { existsSync } from 'node:fs';
import type { LoadedManifest } from '@bramble/manifest';
import type { Command } from 'commander';
import { commandContext, manifestFor } from '../../context.js';
import { loadBootTree } from '../../packages.js';
import { isExtracted, storedImage } from '../../store.js';

export function registerLs(image: Command): void {
  image
    .command('ls')
    .description('list the images of the manifest')
    .addHelpText('after', '\nExamples:\n  bramble image ls\n  bramble image ls --json')
    .action(async (_options: unknown, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      const manifest = await manifestFor(globalOptions);
      out.table(
        await imageRows(manifest),
        [
          { key: 'name', header: 'NAME' },
          { key: 'release', header: 'RELEASE' },
          { key: 'extracted', header: 'EXTRACTED', format: (value) => (value ? 'yes' : 'no') },
          { key: 'nodes', header: 'NODES', align: 'right' },
          {
            key: 'file',
            header: 'FILE',
            format: (value, row) => `${String(value)}${row.exists ? '' : ' (missing)'}`,
          },
        ],
        { empty: 'no images: add one with bramble image add NAME FILE' },
      );
    });
}

async function imageRows(manifest: LoadedManifest) {
  const bootTree = await loadBootTree().catch(() => undefined);
  const rows = [];
  for (const name of Object.keys(manifest.manifest.images)) {
    const stored = storedImage(manifest, name);
    const extracted = await isExtracted(stored);
    let release: string | undefined;
    if (extracted && bootTree?.detectRelease)
      release = await bootTree.detectRelease(stored.rootDir).then(
        (found) => found.codename,
        () => undefined,
      );
    rows.push({
      name,
      file: stored.file,
      exists: existsSync(stored.file),
      extracted,
      release,
      nodes: manifest.manifest.nodes.filter((entry) => entry.image === name).length,
    });
  }
  return rows;
}
