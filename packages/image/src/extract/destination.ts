import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  rmdir,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { DestinationError, ImageError } from '../errors.js';

/**
 * Where one extraction goes, and what may happen to what is there. Rules, all checked before
 * anything is written:
 * - `/` and the home directory are never destinations (DESTINATION_PROTECTED);
 * - the destinations of one extraction are neither the same path nor nested (DESTINATION_CONFLICT);
 * - an existing non-empty destination needs `overwrite` (DESTINATION_NOT_EMPTY), and even then is
 *   replaced only when it is an earlier extraction: its marker file records the destination's
 *   device, inode and birth time (DESTINATION_FOREIGN otherwise).
 * Output is written into a fresh staging directory `<to>.partial-XXXXXX` beside the destination
 * and moved into place by `commit`; `discard` removes the staging directory and nothing else.
 */
export interface Destination {
  /** Absolute destination path. */
  readonly to: string;
  readonly format: 'dir' | 'tar';
  /** What is at `to` now: nothing, an empty directory or file, or an earlier extraction (overwrite). */
  readonly existing: 'absent' | 'empty' | 'earlier-extraction';
  /** The staging directory, once `stage` created it. */
  staging?: string | undefined;
}

/** The marker extraction writes beside each destination: `<parent>/.<name>.bramble-extract.json`. */
export function markerPath(to: string): string {
  return join(dirname(to), `.${basename(to)}.bramble-extract.json`);
}

interface Marker {
  /** Written by @bramble/image; identifies the extraction at `to` by device and inode. */
  bramble: 'extract';
  format: 'dir' | 'tar';
  dev: string;
  ino: string;
  /** Birth time in ns (statx), so a new directory that reuses a freed inode number does not match. */
  birthtimeNs: string;
  extractedAt: string;
}

/** Resolve symlinks in the longest existing prefix of `path` (the rest does not exist yet). */
async function realPathOfPrefix(path: string): Promise<string> {
  const rest: string[] = [];
  let cur = path;
  for (;;) {
    try {
      return join(await realpath(cur), ...rest.reverse());
    } catch {
      const parent = dirname(cur);
      if (parent === cur) return path;
      rest.push(basename(cur));
      cur = parent;
    }
  }
}

async function protectedPaths(): Promise<Set<string>> {
  const out = new Set<string>(['/']);
  const home = homedir();
  if (home) {
    out.add(resolve(home));
    out.add(await realPathOfPrefix(resolve(home)));
  }
  return out;
}

const inside = (child: string, parent: string) =>
  child === parent || child.startsWith(parent.endsWith(sep) ? parent : `${parent}${sep}`);

async function existingState(to: string): Promise<'absent' | 'empty' | 'occupied'> {
  try {
    const st = await lstat(to);
    if (st.isDirectory()) return (await readdir(to)).length === 0 ? 'empty' : 'occupied';
    return st.isFile() && st.size === 0 ? 'empty' : 'occupied';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw new ImageError('IO', `cannot inspect destination ${to}: ${(e as Error).message}`, { cause: e });
  }
}

/** Is `to` the extraction its marker describes (same device and inode, same format)? */
async function isEarlierExtraction(to: string, format: 'dir' | 'tar'): Promise<boolean> {
  let marker: Partial<Marker>;
  try {
    marker = JSON.parse(await readFile(markerPath(to), 'utf8')) as Partial<Marker>;
  } catch {
    return false;
  }
  const st = await lstat(to, { bigint: true });
  const kindMatches = format === 'dir' ? st.isDirectory() : st.isFile();
  return (
    marker.bramble === 'extract' &&
    marker.format === format &&
    kindMatches &&
    marker.dev === String(st.dev) &&
    marker.ino === String(st.ino) &&
    marker.birthtimeNs === String(st.birthtimeNs)
  );
}

/** Check every destination of one extraction against the rules above; writes nothing. */
export async function planDestinations(
  targets: readonly { to: string; format: 'dir' | 'tar' }[],
  overwrite: boolean,
): Promise<Destination[]> {
  const guarded = await protectedPaths();
  const real: string[] = [];
  for (const t of targets) {
    const to = resolve(t.to);
    const actual = await realPathOfPrefix(to);
    if (guarded.has(to) || guarded.has(actual)) {
      throw new DestinationError(
        'DESTINATION_PROTECTED',
        to,
        `refusing to extract to ${t.to}: it is ${actual === '/' || to === '/' ? 'the root directory' : 'the home directory'}; give a directory of its own`,
      );
    }
    real.push(actual);
  }
  real.forEach((a, i) => {
    real.forEach((b, j) => {
      if (i < j && (inside(a, b) || inside(b, a))) {
        throw new DestinationError(
          'DESTINATION_CONFLICT',
          targets[j]?.to ?? b,
          `destinations ${targets[i]?.to} and ${targets[j]?.to} ${a === b ? 'are the same path' : 'are nested'}: give each partition its own directory`,
        );
      }
    });
  });
  const out: Destination[] = [];
  for (const t of targets) {
    const to = resolve(t.to);
    const state = await existingState(to);
    if (state === 'occupied') {
      if (!overwrite) {
        throw new DestinationError(
          'DESTINATION_NOT_EMPTY',
          to,
          `destination ${t.to} exists and is not empty: choose an empty or new path, or pass overwrite to replace an earlier extraction`,
        );
      }
      if (!(await isEarlierExtraction(to, t.format))) {
        throw new DestinationError(
          'DESTINATION_FOREIGN',
          to,
          `destination ${t.to} is not empty and holds no earlier extraction (no matching ${basename(markerPath(to))}): overwrite replaces only what extraction wrote; remove it yourself or choose another path`,
        );
      }
    }
    out.push({ to, format: t.format, existing: state === 'occupied' ? 'earlier-extraction' : state });
  }
  return out;
}

/** Create the staging directory beside the destination; returns where the output goes inside it. */
export async function stage(dest: Destination): Promise<string> {
  // Like `mkdir -p`: a destination whose parent does not exist yet is created, not an error.
  await mkdir(dirname(dest.to), { recursive: true });
  dest.staging = await mkdtemp(`${dest.to}.partial-`);
  return join(dest.staging, dest.format === 'dir' ? 'tree' : 'archive.tar');
}

/** Move the staged output into place (an earlier extraction is moved aside, then removed) and write the marker. */
export async function commit(dest: Destination): Promise<void> {
  const staging = dest.staging;
  if (staging === undefined) throw new ImageError('IO', `nothing staged for ${dest.to}`);
  const output = join(staging, dest.format === 'dir' ? 'tree' : 'archive.tar');
  const now = await existingState(dest.to);
  if (now === 'occupied') {
    if (dest.existing !== 'earlier-extraction' || !(await isEarlierExtraction(dest.to, dest.format))) {
      throw new DestinationError(
        'DESTINATION_NOT_EMPTY',
        dest.to,
        `destination ${dest.to} was filled by someone else during extraction: nothing replaced`,
      );
    }
    await rename(dest.to, join(staging, 'replaced'));
  } else if (now === 'empty') {
    const st = await lstat(dest.to);
    if (st.isDirectory()) await rmdir(dest.to);
    else await unlink(dest.to);
  }
  await rename(output, dest.to);
  await rm(staging, { recursive: true, force: true });
  dest.staging = undefined;
  const st = await lstat(dest.to, { bigint: true });
  const marker: Marker = {
    bramble: 'extract',
    format: dest.format,
    dev: String(st.dev),
    ino: String(st.ino),
    birthtimeNs: String(st.birthtimeNs),
    extractedAt: new Date().toISOString(),
  };
  await writeFile(markerPath(dest.to), `${JSON.stringify(marker, null, 2)}\n`, { mode: 0o644 });
}

/** Remove the staging directory (only it: the destination is untouched until commit). */
export async function discard(dest: Destination): Promise<void> {
  if (dest.staging === undefined) return;
  await rm(dest.staging, { recursive: true, force: true }).catch(() => undefined);
  dest.staging = undefined;
}
