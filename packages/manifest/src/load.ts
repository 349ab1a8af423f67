/**
 * Reading `bramble.yaml`: bounded in size, YAML errors with line and column, every schema problem
 * listed by path, paths resolved against the manifest's directory.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ManifestError, type ManifestProblem, ManifestTooLargeError } from './errors.js';
import { crossProblems, Manifest } from './schema.js';

/** Largest manifest accepted: 1 MiB (a manifest for hundreds of nodes is tens of KiB). */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** A validated manifest with its paths made absolute (relative to the manifest file). */
export interface LoadedManifest {
  path: string;
  manifest: Manifest;
  stateDir: string;
  tftpRoot: string;
  nfsRoot: string;
  imagesDir: string;
  /** `<stateDir>/discovered.json`: unknown Pis brambled saw. */
  discoveredFile: string;
  /** image name -> absolute image file path */
  imageFiles: Record<string, string>;
  /** sha256 of the manifest text this was loaded from (reloads compare it). */
  hash?: string;
}

/** `['nodes', 2, 'serial']` -> `nodes[2].serial` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

function zodProblems(error: z.ZodError): ManifestProblem[] {
  const out: ManifestProblem[] = [];
  const walk = (issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]) => {
    for (const issue of issues) {
      if (issue.code === 'invalid_union' && issue.errors.length > 0) {
        // Report the branch that got furthest rather than "invalid input".
        const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
        if (best && best.length > 0) {
          walk(best, [...prefix, ...issue.path]);
          continue;
        }
      }
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys)
          out.push({
            path: formatPath([...prefix, ...issue.path, key]),
            message: 'unknown key (check the spelling)',
          });
        continue;
      }
      out.push({ path: formatPath([...prefix, ...issue.path]), message: issue.message });
    }
  };
  walk(error.issues, []);
  return out;
}

/** Validate an already-parsed manifest object; throws ManifestError listing every problem by path. */
export function parseManifest(data: unknown, file = 'bramble.yaml'): Manifest {
  const result = Manifest.safeParse(data ?? {});
  if (result.success) return result.data;
  const problems = zodProblems(result.error);
  for (const cross of crossProblems(data)) {
    const path = formatPath(cross.path);
    if (!problems.some((problem) => problem.path === path && problem.message === cross.message))
      problems.push({ path, message: cross.message });
  }
  throw new ManifestError(file, problems);
}

/** Parse manifest YAML text; YAML syntax errors are reported with line and column. */
export function parseManifestText(text: string, file = 'bramble.yaml'): Manifest {
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) throw new ManifestTooLargeError(file, MAX_MANIFEST_BYTES);
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0)
    throw new ManifestError(
      file,
      doc.errors.map((error) => ({
        path: error.linePos?.[0] ? `line ${error.linePos[0].line}:${error.linePos[0].col}` : '',
        message: error.message.split('\n')[0] ?? error.message,
      })),
    );
  return parseManifest(doc.toJS(), file);
}

/**
 * Read the manifest's text, at most `limitBytes` (default {@link MAX_MANIFEST_BYTES}): a bigger
 * file, or a device or pipe that never ends, is refused with ManifestTooLargeError without
 * reading past the limit. An unreadable file is a ManifestError.
 */
export async function readManifestText(path: string, limitBytes = MAX_MANIFEST_BYTES): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw new ManifestError(path, [{ path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  try {
    const buffer = Buffer.alloc(limitBytes + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > limitBytes) throw new ManifestTooLargeError(path, limitBytes);
    return buffer.subarray(0, filled).toString('utf8');
  } catch (e) {
    if (e instanceof ManifestError) throw e;
    throw new ManifestError(path, [{ path: '', message: `cannot read: ${(e as Error).message}` }]);
  } finally {
    await handle.close();
  }
}

/** Resolve the manifest's paths against the directory the manifest lives in. */
export function resolveManifest(manifest: Manifest, path: string): LoadedManifest {
  const base = dirname(resolve(path));
  const absolute = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const stateDir = absolute(manifest.stateDir);
  const imageFiles: Record<string, string> = {};
  for (const [name, file] of Object.entries(manifest.images)) imageFiles[name] = absolute(file);
  return {
    path: resolve(path),
    manifest,
    stateDir,
    tftpRoot: resolve(stateDir, 'tftp'),
    nfsRoot: manifest.nfs.root ? absolute(manifest.nfs.root) : resolve(stateDir, 'nfs'),
    imagesDir: resolve(stateDir, 'images'),
    discoveredFile: join(stateDir, 'discovered.json'),
    imageFiles,
  };
}

/** sha256 of manifest text, as `LoadedManifest.hash`. */
export function manifestHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Read (bounded), parse and validate `bramble.yaml`; throws ManifestError listing every problem by path. */
export async function loadManifest(path: string): Promise<LoadedManifest> {
  const text = await readManifestText(path);
  return { ...resolveManifest(parseManifestText(text, path), path), hash: manifestHash(text) };
}
