import type { LoadedManifest } from '@bramble/manifest';
import type { Command } from 'commander';
import { commandContext, manifestFor } from '../../context.js';
import { CliError } from '../../errors.js';
import { type CheckProblem, loadBootTree } from '../../packages.js';
import { readLayouts } from '../../store.js';

/** Every problem of the given nodes (all when empty), unprovisioned nodes included. */
export async function checkRows(
  manifest: LoadedManifest,
  hostnames: readonly string[] = [],
): Promise<CheckProblem[]> {
  const bootTree = await loadBootTree();
  const { layouts, missing } = await readLayouts(manifest, hostnames);
  // A shared-root node's fstab/hostname live in its layer's identity; its nfsroot is the image's base.
  const targets = layouts.map((layout) =>
    layout.basePath ? { ...layout, rootPath: bootTree.identityRoot(layout.rootPath) } : layout,
  );
  const rows = await bootTree.checkNodes(targets, {
    exportedPaths: layouts.flatMap((layout) => [
      layout.rootPath,
      layout.bootPath,
      ...(layout.basePath ? [layout.basePath] : []),
    ]),
  });
  for (const hostname of missing)
    rows.push({
      node: hostname,
      severity: 'error',
      code: 'NOT_PROVISIONED',
      message: 'no TFTP/NFS trees have been laid out for this node',
      fix: `bramble node provision ${hostname}`,
    });
  return rows;
}

/** Throws NOT_FOUND for the first of `hostnames` the manifest does not list. */
export function requireNodes(manifest: LoadedManifest, hostnames: readonly string[]): void {
  for (const hostname of hostnames)
    if (!manifest.manifest.nodes.some((node) => node.hostname === hostname))
      throw new CliError('NOT_FOUND', `no node '${hostname}'`);
}

export function registerCheck(node: Command): void {
  node
    .command('check')
    .description('check that everything each node needs is where its Pi will look')
    .argument('[hostname...]', 'nodes to check (default: all)')
    .addHelpText('after', '\nExamples:\n  bramble node check\n  bramble node check rpi-k8s-01 --json')
    .action(async (hostnames: string[], _options: unknown, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      const manifest = await manifestFor(globalOptions);
      requireNodes(manifest, hostnames);
      const rows = await checkRows(manifest, hostnames);
      if (globalOptions.json) out.data(rows);
      else if (rows.length === 0) out.print(`${out.green('✓')} no problems`);
      else
        out.table(rows, [
          {
            key: 'severity',
            header: '',
            format: (value) => (value === 'error' ? out.red('ERROR') : out.yellow('warning')),
          },
          { key: 'node', header: 'NODE' },
          { key: 'message', header: 'PROBLEM' },
          { key: 'fix', header: 'FIX' },
        ]);
      if (rows.some((row) => row.severity === 'error')) process.exitCode = 1;
    });
}
