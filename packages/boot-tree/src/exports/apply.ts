import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Logger } from '@bramble/logger';
import { execa } from 'execa';
import { BootTreeError } from '../errors.js';
import { writeText } from '../fs-util.js';
import type { ExportNode, ExportScopeOptions } from './common.js';
import { exportsFile } from './exports.js';

export interface ApplyKernelExportsOptions extends ExportScopeOptions {
  /** Default `/etc/exports.d/bramble.exports`. */
  file?: string;
  /** Path of exportfs; default: looked up in /usr/sbin, /sbin and PATH. */
  exportfs?: string;
  logger?: Logger;
}

async function findExportfs(given?: string): Promise<string | undefined> {
  const dirs = ['/usr/sbin', '/sbin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  const candidates = given ? [given] : dirs.map((d) => join(d, 'exportfs'));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * Write the nodes' exports to an exports.d file and, where a kernel NFS server exists (exportfs is
 * installed), run `exportfs -ra`. Returns the file and whether exportfs ran.
 */
export async function applyKernelExports(
  nodes: readonly ExportNode[],
  options: ApplyKernelExportsOptions = {},
): Promise<{ file: string; reloaded: boolean }> {
  const file = options.file ?? '/etc/exports.d/bramble.exports';
  const changed = await writeText(file, exportsFile(nodes, options));
  options.logger?.info({ file, changed }, 'wrote NFS exports');
  const exportfs = await findExportfs(options.exportfs);
  if (!exportfs) {
    options.logger?.warn(
      { file },
      'exportfs not found: no kernel NFS server here, exports file written only',
    );
    return { file, reloaded: false };
  }
  const r = await execa(exportfs, ['-ra'], { reject: false, timeout: 60_000 });
  if (r.exitCode !== 0) {
    throw new BootTreeError(
      'TOOL_FAILED',
      `${exportfs} -ra failed (exit ${r.exitCode}): ${r.stderr.slice(0, 500)}`,
    );
  }
  return { file, reloaded: true };
}
