import { lstat, mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ImageError } from '../errors.js';

/** What is at the destination now: nothing, an empty directory, or something else. */
async function state(to: string): Promise<'absent' | 'empty-dir' | 'occupied'> {
  try {
    const st = await lstat(to);
    if (st.isDirectory()) return (await readdir(to)).length === 0 ? 'empty-dir' : 'occupied';
    return st.isFile() && st.size === 0 ? 'empty-dir' : 'occupied';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw new ImageError('IO', `cannot inspect destination ${to}: ${(e as Error).message}`, { cause: e });
  }
}

/** Refuse a non-empty destination unless `overwrite`; clear a stale `<to>.partial`. */
export async function prepareDestination(to: string, overwrite: boolean): Promise<string> {
  if ((await state(to)) === 'occupied' && !overwrite) {
    throw new ImageError(
      'DESTINATION_NOT_EMPTY',
      `destination ${to} exists and is not empty: choose an empty or new path, or pass overwrite: true to replace it`,
    );
  }
  const partial = `${to}.partial`;
  await rm(partial, { recursive: true, force: true });
  // Like `mkdir -p`: a destination whose parent does not exist yet is created, not an error.
  await mkdir(dirname(to), { recursive: true });
  return partial;
}

/** Move the finished `<to>.partial` into place, replacing what was there (already allowed by prepareDestination). */
export async function commitDestination(partial: string, to: string): Promise<void> {
  const s = await state(to);
  if (s === 'occupied') await rm(to, { recursive: true, force: true });
  else if (s === 'empty-dir') {
    const st = await lstat(to);
    if (st.isDirectory()) await rmdir(to);
  }
  await rename(partial, to);
}

export async function discardPartial(partial: string): Promise<void> {
  await rm(partial, { recursive: true, force: true }).catch(() => undefined);
}
