import { open } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { type ConfigTxt, configIncludes, parseConfigTxt } from '@bramble/pi';
import { resolveFile } from '../boot-files.js';
import { VirtualPiError } from '../errors.js';
import { modelSpec } from '../models/index.js';
import type { PiModel } from '../models/types.js';

/** config.txt, its includes and cmdline.txt are read up to this many bytes (the firmware reads 4096). */
const TEXT_MAX_BYTES = 64 * 1024;

/** The files a Pi's firmware would boot from a node's TFTP directory, chosen as the firmware chooses them. */
export interface NodeBootFiles {
  /** The node's TFTP directory. */
  dir: string;
  /** Absolute path of the kernel (config.txt `kernel=`, else the model's default for `arm_64bit`). */
  kernel: string;
  /** Why this kernel name (`kernel= in config.txt`, `arm_64bit=1`). */
  kernelWhy: string;
  /** Absolute path of the initramfs when config.txt names one (`initramfs`, `auto_initramfs`) and it exists. */
  initramfs?: string;
  /** cmdline.txt's text (first line, trimmed), or undefined when the file is missing. */
  cmdline?: string;
  config?: ConfigTxt;
}

/**
 * Read a node's tree the way its Pi firmware would: config.txt (with the model's section filters and the
 * node's serial), then the kernel, initramfs and cmdline it names (rules in ../boot-files.ts, shared with the
 * simulator). Throws KERNEL_NOT_FOUND when no kernel candidate exists.
 */
export async function nodeBootFiles(options: {
  dir: string;
  model: PiModel;
  serial?: string;
}): Promise<NodeBootFiles> {
  const spec = modelSpec(options.model);
  const dir = resolve(options.dir);
  const configText = await readText(dir, 'config.txt');
  let config: ConfigTxt | undefined;
  if (configText !== undefined) {
    const context = { filters: spec.configFilters, ...(options.serial ? { serial: options.serial } : {}) };
    const includes = new Map<string, string | undefined>();
    for (const name of configIncludes(configText, context)) includes.set(name, await readText(dir, name));
    config = parseConfigTxt(configText, { ...context, include: (name) => includes.get(name) });
  }
  const kernelChoice = resolveFile('{kernel}', spec, config, undefined);
  const candidates = kernelChoice?.candidates ?? [];
  let kernelName: string | undefined;
  for (const candidate of candidates) {
    if (await exists(dir, candidate)) {
      kernelName = candidate;
      break;
    }
  }
  if (!kernelName)
    throw new VirtualPiError(
      'KERNEL_NOT_FOUND',
      `no kernel in ${dir} (the firmware would try ${candidates.join(', ') || 'nothing'}${kernelChoice?.why ? `: ${kernelChoice.why}` : ''})`,
    );
  const initramfsName = resolveFile('{initramfs}', spec, config, kernelName)?.candidates[0];
  const cmdlineName = resolveFile('{cmdline}', spec, config, kernelName)?.candidates[0] ?? 'cmdline.txt';
  const cmdline = (await readText(dir, cmdlineName))?.split(/\r?\n/)[0]?.trim();
  return {
    dir,
    kernel: inside(dir, kernelName),
    kernelWhy: kernelChoice?.why ?? 'model default',
    ...(initramfsName && (await exists(dir, initramfsName)) ? { initramfs: inside(dir, initramfsName) } : {}),
    ...(cmdline !== undefined ? { cmdline } : {}),
    ...(config ? { config } : {}),
  };
}

/** `dir/name`, refusing names that leave the node's directory (config.txt is image content: hostile). */
function inside(dir: string, name: string): string {
  const path = resolve(join(dir, name));
  const rel = relative(dir, path);
  if (rel.startsWith('..') || rel === '' || isAbsolute(rel))
    throw new VirtualPiError('KERNEL_NOT_FOUND', `config.txt names '${name}', outside the node's directory`);
  return path;
}

async function exists(dir: string, name: string): Promise<boolean> {
  try {
    const handle = await open(inside(dir, name), 'r');
    await handle.close();
    return true;
  } catch (error) {
    if (error instanceof VirtualPiError) throw error;
    return false;
  }
}

async function readText(dir: string, name: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(inside(dir, name), 'r');
    const buffer = Buffer.alloc(TEXT_MAX_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, TEXT_MAX_BYTES, 0);
    return buffer.subarray(0, bytesRead).toString('latin1');
  } catch (error) {
    if (error instanceof VirtualPiError) throw error;
    return undefined;
  } finally {
    await handle?.close();
  }
}
