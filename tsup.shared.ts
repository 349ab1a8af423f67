import type { Options } from 'tsup';

/** The one tsup setup every package and app builds with: ESM + .d.ts for Node 20. */
export function packageBuild(o: { entry?: string[]; bin?: boolean } = {}): Options {
  return {
    entry: o.entry ?? ['src/index.ts'],
    format: ['esm'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    ...(o.bin ? { banner: { js: '#!/usr/bin/env node' } } : {}),
  };
}
