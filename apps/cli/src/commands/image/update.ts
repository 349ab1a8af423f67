/**
 * `bramble image update NAME NEW.img`: a new base for an image's shared-root nodes. The new image is
 * extracted beside the old base (`<images>/NAME@<time>`); each shared-root node is re-provisioned on it
 * (its cmdline.txt names the new base, so it switches on its next boot; machine-id and host keys are
 * kept, the rest of its identity is derived from the new base), and the report lists, per node, what its
 * layer overrides that the new base changed. Old bases are kept: running nodes use them until they reboot.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { LoadedManifest } from '@bramble/manifest';
import type { Command } from 'commander';
import { editManifest, globals, manifestFor, outputFor } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';
import type { Output } from '../../output.js';
import { type LayerOverride, loadBootTree } from '../../packages.js';
import {
  currentBaseFile,
  ensureExtracted,
  provision,
  readLayouts,
  type StoredImage,
  storedImage,
} from '../../store.js';

interface NodeUpdate {
  node: string;
  from: string;
  to: string;
  overrides: LayerOverride[];
}

export function registerImageUpdate(image: Command): void {
  image
    .command('update')
    .description('extract a new base for an image and move its shared-root nodes to it on their next boot')
    .argument('<name>', 'an image of the manifest')
    .argument('<file>', 'the new .img, .img.xz, .zip or .img.gz')
    .addHelpText(
      'after',
      '\nCopy-mode nodes keep their own roots. Run `bramble nfs apply` afterwards to export the new base.\n\nExamples:\n  bramble image update bookworm ./2025-05-13-raspios-bookworm-arm64-lite.img.xz\n  bramble image update bookworm ./new.img --json',
    )
    .action(async (name: string, file: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      const m = await manifestFor(g);
      const rows = await updateImage(m, g.config, out, name, file);
      if (g.json) out.data({ image: name, nodes: rows });
      else printReport(out, rows);
    });
}

async function updateImage(
  m: LoadedManifest,
  config: string,
  out: Output,
  name: string,
  file: string,
): Promise<NodeUpdate[]> {
  if (!existsSync(file)) throw new CliError('NOT_FOUND', `image file ${file} does not exist`);
  if (!(name in m.imageFiles)) throw new UsageError(`no image '${name}' in the manifest (bramble image ls)`);
  const bt = await loadBootTree();
  const dirName = bt.newBaseName(name);
  const dir = join(m.imagesDir, dirName);
  const next: StoredImage = {
    name,
    file: resolve(file),
    dir,
    bootDir: join(dir, 'boot'),
    rootDir: join(dir, 'root'),
  };
  await ensureExtracted(next, out, { force: true });
  const { layouts } = await readLayouts(m);
  const current = storedImage(m, name);
  const rows: NodeUpdate[] = [];
  const shared = m.manifest.nodes.filter(
    (n) => n.image === name && n.root !== undefined && n.root !== 'copy',
  );
  for (const [i, n] of shared.entries()) {
    const layout = layouts.find((l) => l.hostname === n.hostname);
    const from = layout?.basePath ?? current.rootDir;
    const overrides = layout
      ? await bt.layerOverrides({ layerDir: layout.rootPath, oldBase: from, newBase: next.rootDir })
      : [];
    await provision(m, n, out, { image: next, carryIdentity: 'secrets', refreshImage: i === 0 });
    rows.push({ node: n.hostname, from, to: next.rootDir, overrides });
  }
  await writeFile(currentBaseFile(m, name), `${dirName}\n`);
  await editManifest(config, (doc) => {
    const rel = relative(resolve(config, '..'), resolve(file));
    doc.setIn(['images', name], rel.startsWith('..') ? resolve(file) : `./${rel}`);
  });
  const old = (await bt.listBases(m.imagesDir, name, [])).filter((base) => base.name !== dirName);
  if (old.length > 0) {
    out.print(
      `kept earlier base(s) of ${name}: ${old.map((base) => base.name).join(', ')} (running nodes use them until they reboot; then \`bramble image prune ${name}\` deletes them)`,
    );
  }
  return rows;
}

function printReport(out: Output, rows: readonly NodeUpdate[]): void {
  if (rows.length === 0) {
    out.print('no shared-root node uses this image: nothing to switch (copy-mode nodes keep their roots)');
    return;
  }
  for (const r of rows) {
    out.print(`${out.green('✓')} ${r.node}: base ${r.to} on next boot`);
    if (r.overrides.length === 0) out.print('    its layer overrides nothing the new base changed');
    for (const o of r.overrides) {
      out.print(`    ${o.change.padEnd(8)} ${o.path}  (overridden by the node's ${o.source})`);
    }
  }
  out.print('run `bramble nfs apply` (or nfs config) to export the new base');
}
