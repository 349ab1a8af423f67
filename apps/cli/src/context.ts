/** Global options, the manifest of the current command, and safe manifest edits. */
import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import {
  type LoadedManifest,
  loadManifest,
  ManifestError,
  type ManifestProblem,
  parseManifest,
  readManifestText,
  resolveManifest,
} from '@bramble/manifest';
import type { Command } from 'commander';
import { type Document, parseDocument } from 'yaml';
import { CliError, UsageError } from './errors.js';
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
  const options = cmd.optsWithGlobals() as Partial<GlobalOptions>;
  return {
    config: options.config ?? process.env.BRAMBLE_CONFIG ?? 'bramble.yaml',
    json: options.json ?? false,
    quiet: options.quiet ?? false,
    verbose: options.verbose ?? false,
    yes: options.yes ?? false,
    color: options.color ?? true,
  };
}

export function outputFor(globalOptions: GlobalOptions): Output {
  return new Output({
    json: globalOptions.json,
    quiet: globalOptions.quiet,
    verbose: globalOptions.verbose,
    color: globalOptions.color,
  });
}

/** The global options of an action's command and the output they ask for. */
export function commandContext(cmd: Command): { globalOptions: GlobalOptions; out: Output } {
  const globalOptions = globals(cmd);
  return { globalOptions, out: outputFor(globalOptions) };
}

export async function manifestFor(globalOptions: GlobalOptions): Promise<LoadedManifest> {
  if (!existsSync(globalOptions.config))
    throw new CliError(
      'NO_MANIFEST',
      `no manifest at ${globalOptions.config}: create one with 'bramble init --server ADDR' or pass --config FILE`,
    );
  return loadManifest(globalOptions.config);
}

/**
 * Which command-line flag set which manifest field, for reporting a bad value as the flag the user
 * typed (`--serial: serial 'zz' is not 8 hex digits …`, exit 2) instead of as a manifest path.
 * `node` names the node the command adds; its fields are keyed `node.<field>`.
 */
export interface FlagSources {
  node?: string;
  flags: Record<string, string>;
}

/** The manifest fields `bramble node add` / `node adopt` fill from their flags. */
export const NODE_FLAGS: Record<string, string> = {
  'node.serial': '--serial',
  'node.mac': '--mac',
  'node.image': '--image',
  'node.model': '--model',
  'node.address': '--address',
  'node.user': '--user',
  'node.sshKeys': '--ssh-key',
  'node.nfsVersion': '--nfs-version',
  'node.root': '--root',
  'node.hostKeys': '--host-keys',
  'server.address': '--nfs-server',
  stateDir: '--state',
};

/**
 * Edit the manifest as a YAML document (comments and order kept), validate the result and only
 * then write it (atomically). Returns the new manifest. With `sources`, problems that come from
 * the command's flags are reported as usage errors naming the flag.
 */
export async function editManifest(
  path: string,
  edit: (doc: Document) => void,
  before?: (manifest: LoadedManifest) => Promise<void>,
  sources?: FlagSources,
): Promise<LoadedManifest> {
  const text = existsSync(path) ? await readManifestText(path) : '';
  const doc = parseDocument(text);
  edit(doc);
  const next = doc.toString();
  let loaded: LoadedManifest;
  try {
    loaded = resolveManifest(parseManifest(doc.toJS(), path), path);
  } catch (err) {
    throw (sources && err instanceof ManifestError && flagError(err, doc.toJS(), sources)) || err;
  }
  if (before) await before(loaded);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, next);
  await rename(tmp, path);
  return loaded;
}

/** A usage error naming the flags, when every problem of `err` comes from a flag; else undefined. */
function flagError(err: ManifestError, raw: unknown, sources: FlagSources): UsageError | undefined {
  const nodes = (raw as { nodes?: { hostname?: unknown }[] } | null)?.nodes ?? [];
  const index = nodes.map((n) => n?.hostname).lastIndexOf(sources.node);
  const lines: string[] = [];
  for (const problem of err.problems) {
    const line = flagLine(problem, index, raw, sources.flags);
    if (line === undefined) return undefined;
    lines.push(line);
  }
  return lines.length > 0 ? new UsageError(lines.join('\n  ')) : undefined;
}

function flagLine(
  problem: ManifestProblem,
  nodeIndex: number,
  raw: unknown,
  flags: Record<string, string>,
): string | undefined {
  const prefix = `nodes[${nodeIndex}].`;
  const path =
    nodeIndex >= 0 && problem.path.startsWith(prefix)
      ? `node.${problem.path.slice(prefix.length)}`
      : problem.path;
  const field = Object.keys(flags).find(
    (f) => path === f || path.startsWith(`${f}.`) || path.startsWith(`${f}[`),
  );
  if (field === undefined) return undefined;
  const flag = flags[field];
  const value = valueAt(raw, problem.path);
  const unknownImage = /^unknown image '.*' \(known: (.*)\)$/.exec(problem.message);
  if (unknownImage)
    return `${flag}: expected an image file or the name of an image in the manifest (known: ${unknownImage[1]}), got '${String(value)}': no such file or image`;
  const shown = typeof value === 'string' || typeof value === 'number' ? `'${value}'` : undefined;
  // Messages that already quote the value (e.g. @bramble/pi's serial rule) are not told it twice.
  const got = shown !== undefined && !problem.message.includes(shown) ? `, got ${shown}` : '';
  return `${flag}: ${problem.message}${got}`;
}

/** The value at a formatted manifest path (`nodes[0].serial`). */
function valueAt(raw: unknown, path: string): unknown {
  let at: unknown = raw;
  for (const key of path.match(/[^.[\]]+/g) ?? []) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}
