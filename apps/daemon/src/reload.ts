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

export function createReloader(o: {
  path: string;
  apply: (m: LoadedManifest) => Promise<void> | void;
  logger?: Logger | undefined;
  watch?: boolean | undefined;
  debounceMs?: number | undefined;
  onResult?: ((r: ReloadResult) => void) | undefined;
  /** Hash of the manifest text currently applied (LoadedManifest.hash). */
  initialHash?: string | undefined;
}): Reloader {
  let lastHash = o.initialHash ?? '';
  let chain: Promise<ReloadResult> | undefined;
  const hashOf = async () => {
    try {
      return manifestHash(await readManifestText(o.path));
    } catch {
      return '';
    }
  };

  const doReload = async (reason: string): Promise<ReloadResult> => {
    const hash = await hashOf();
    let result: ReloadResult;
    try {
      const m = await loadManifest(o.path);
      await o.apply(m);
      result = { ok: true, changed: (m.hash ?? hash) !== lastHash, manifest: m };
      lastHash = m.hash ?? hash;
      o.logger?.info({ event: 'reload', reason, nodes: m.manifest.nodes.length }, 'manifest reloaded');
    } catch (e) {
      const problems =
        e instanceof ManifestError
          ? e.problems
          : [{ path: '', message: e instanceof Error ? e.message : String(e) }];
      lastHash = hash;
      o.logger?.error(
        { event: 'reload-rejected', reason, problems },
        `manifest rejected, still serving the previous one:\n${problems.map((p) => `  ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n')}`,
      );
      result = { ok: false, problems };
    }
    o.onResult?.(result);
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
  if (o.watch) {
    // Watch the directory: editors replace the file by renaming over it.
    const name = basename(o.path);
    try {
      watcher = watch(dirname(o.path), { persistent: false }, (_ev, file) => {
        if (file !== null && file !== name) return;
        clearTimeout(timer);
        timer = setTimeout(async () => {
          if ((await hashOf()) === lastHash) return;
          void reload('file changed');
        }, o.debounceMs ?? 250);
      });
      watcher.on('error', (e) => o.logger?.warn({ err: e }, 'manifest watch failed; SIGHUP still reloads'));
    } catch (e) {
      o.logger?.warn({ err: e }, 'cannot watch the manifest; SIGHUP still reloads');
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
