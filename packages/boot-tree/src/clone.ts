import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '@bramble/logger';
import { definedOnly } from '@bramble/pi';
import { execa } from 'execa';
import { BootTreeError, throwIfAborted } from './errors.js';
import { exists } from './fs-util.js';

export type CloneMode = 'copy' | 'hardlink';

export interface CloneOptions {
  /**
   * 'copy' (default): `cp -a --reflink=auto` — a copy-on-write clone (FICLONE, same as COPYFILE_FICLONE)
   * where the file system supports it (btrfs, XFS, bcachefs), else a full metadata-preserving copy:
   * owners, modes incl. setuid, symlinks, hard links within the tree, device nodes, xattrs (file
   * capabilities, ACLs) and times. Node's fs.cp keeps none of xattrs, device nodes or hard links.
   * 'hardlink': explicit opt-in (`cp -al`): nodes share inodes with the image, so a write through NFS
   * to an existing file (not a replace) leaks into the image and every other node of it.
   */
  mode?: CloneMode;
  /** Replace an existing destination (default: keep it — provisioning is idempotent). */
  overwrite?: boolean;
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Clone an extracted root file system to a node's NFS root. The copy goes to a temporary sibling
 * directory and is renamed into place, so an interrupted clone never looks complete.
 * Returns false when `dst` already existed and was kept.
 */
export async function cloneTree(src: string, dst: string, options: CloneOptions = {}): Promise<boolean> {
  throwIfAborted(options.signal);
  if (!(await exists(src))) throw new BootTreeError('NOT_FOUND', `image root '${src}' does not exist`);
  if (await exists(dst)) {
    const entries = await readdir(dst).catch(() => []);
    if (!options.overwrite && entries.length > 0) {
      options.logger?.debug({ dst }, 'node root exists, keeping it');
      return false;
    }
    await rm(dst, { recursive: true, force: true });
  }
  await mkdir(dirname(dst), { recursive: true });
  const tmp = `${dst}.bramble-clone-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  const args =
    options.mode === 'hardlink' ? ['-al', `${src}/.`, tmp] : ['-a', '--reflink=auto', `${src}/.`, tmp];
  options.logger?.info({ src, dst, mode: options.mode ?? 'copy' }, 'cloning root file system');
  await mkdir(tmp);
  const r = await execa('cp', args, {
    reject: false,
    ...definedOnly({ cancelSignal: options.signal }),
  }).catch((e: unknown) => ({ exitCode: -1, stderr: String(e), isCanceled: false }));
  if (r.exitCode !== 0) {
    await rm(tmp, { recursive: true, force: true });
    throwIfAborted(options.signal);
    throw new BootTreeError('COPY_FAILED', `cp ${args.join(' ')} failed: ${String(r.stderr).slice(0, 500)}`);
  }
  await rename(tmp, dst);
  return true;
}
