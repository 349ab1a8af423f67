/**
 * Manifest reloads: on SIGHUP or when the manifest file changes, read and validate it; a valid
 * one is applied (the daemon swaps its TFTP handler atomically — transfers in flight keep their
 * source), a bad one is rejected with every problem logged and the old one keeps serving.
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import {
  type LoadedManifest,
  loadManifest,
  ManifestError,
  type ManifestProblem,
  manifestHash,
  readManifestText,
} from '@bramble/manifest';
import type { Logger } from 'pino';

export type ReloadResult =
  | { ok: true; changed: boolean; manifest: LoadedManifest }
  | { ok: false; problems: ManifestProblem[] };

export interface Reloader {
  reload(reason: string): Promise<ReloadResult>;
  close(): void;
}

export function createReloader(options: {
  path: string;
  apply: (manifest: LoadedManifest) => Promise<void> | void;
  logger?: Logger | undefined;
  watch?: boolean | undefined;
  debounceMs?: number | undefined;
  onResult?: ((result: ReloadResult) => void) | undefined;
  /** Hash of the manifest text currently applied (LoadedManifest.hash). */
  initialHash?: string | undefined;
}): Reloader {
  let lastHash = options.initialHash ?? '';
  let chain: Promise<ReloadResult> | undefined;
  const hashOf = async () => {
    try {
      return manifestHash(await readManifestText(options.path));
    } catch {
      return '';
    }
  };

  const doReload = async (reason: string): Promise<ReloadResult> => {
    const hash = await hashOf();
    let result: ReloadResult;
    try {
      const loaded = await loadManifest(options.path);
      await options.apply(loaded);
      result = { ok: true, changed: (loaded.hash ?? hash) !== lastHash, manifest: loaded };
      lastHash = loaded.hash ?? hash;
      options.logger?.info(
        { event: 'reload', reason, nodes: loaded.manifest.nodes.length },
        'manifest reloaded',
      );
    } catch (e) {
      const problems =
        e instanceof ManifestError
          ? e.problems
          : [{ path: '', message: e instanceof Error ? e.message : String(e) }];
      lastHash = hash;
      options.logger?.error(
        { event: 'reload-rejected', reason, problems },
        `manifest rejected, still serving the previous one:\n${problems.map((p) => `  ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n')}`,
      );
      result = { ok: false, problems };
    }
    options.onResult?.(result);
    return result;
  };

  // Reloads run one after another, never interleaved.
  const reload = (reason: string): Promise<ReloadResult> => {
    const next = (chain ?? Promise.resolve()).catch(() => undefined).then(() => doReload(reason));
    chain = next;
    return next;
  };

  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (options.watch) {
    // Watch the directory: editors replace the file by renaming over it.
    const name = basename(options.path);
    try {
      watcher = watch(dirname(options.path), { persistent: false }, (_ev, file) => {
        if (file !== null && file !== name) return;
        clearTimeout(timer);
        timer = setTimeout(async () => {
          if ((await hashOf()) === lastHash) return;
          void reload('file changed');
        }, options.debounceMs ?? 250);
      });
      watcher.on('error', (e) =>
        options.logger?.warn({ err: e }, 'manifest watch failed; SIGHUP still reloads'),
      );
    } catch (e) {
      options.logger?.warn({ err: e }, 'cannot watch the manifest; SIGHUP still reloads');
    }
  }
  return {
    reload,
    close: () => {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
