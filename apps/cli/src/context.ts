/** Global options, the manifest of the current command, and safe manifest edits. */
import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import {
  type LoadedManifest,
  loadManifest,
  parseManifest,
  readManifestText,
  resolveManifest,
} from '@bramble/manifest';
import type { Command } from 'commander';
import { type Document, parseDocument } from 'yaml';
import { CliError } from './errors.js';
import { Output } from './output.js';

export interface GlobalOptions {
  config: string;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  yes: boolean;
  color: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as Partial<GlobalOptions>;
  return {
    config: o.config ?? process.env.BRAMBLE_CONFIG ?? 'bramble.yaml',
    json: o.json ?? false,
    quiet: o.quiet ?? false,
    verbose: o.verbose ?? false,
    yes: o.yes ?? false,
    color: o.color ?? true,
  };
}

export function outputFor(g: GlobalOptions): Output {
  return new Output({ json: g.json, quiet: g.quiet, verbose: g.verbose, color: g.color });
}

export async function manifestFor(g: GlobalOptions): Promise<LoadedManifest> {
  if (!existsSync(g.config))
    throw new CliError(
      'NO_MANIFEST',
      `no manifest at ${g.config}: create one with 'bramble init --server ADDR' or pass --config FILE`,
    );
  return loadManifest(g.config);
}

/**
 * Edit the manifest as a YAML document (comments and order kept), validate the result and only
 * then write it (atomically). Returns the new manifest.
 */
export async function editManifest(
  path: string,
  edit: (doc: Document) => void,
  before?: (m: LoadedManifest) => Promise<void>,
): Promise<LoadedManifest> {
  const text = existsSync(path) ? await readManifestText(path) : '';
  const doc = parseDocument(text);
  edit(doc);
  const next = doc.toString();
  const manifest = parseManifest(doc.toJS(), path);
  const loaded = resolveManifest(manifest, path);
  if (before) await before(loaded);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, next);
  await rename(tmp, path);
  return loaded;
}
