import type { Options } from 'tsup';
import { packageBuild } from './tsup.shared.ts';

/**
 * The apps (`bramble`, `brambled`) publish as self-contained bundles: the workspace packages and
 * every third-party dependency are inlined, so `npm i -g bramble` installs one package, not a tree.
 * The library packages stay unbundled (tsup.shared.ts). Bundled CommonJS dependencies (pino,
 * yauzl, ...) call `require`, which an ES module has not got: the banner provides one. The native
 * TFTP pump packages (@bramble/tftp-linux-*) stay external: they are the apps' optional
 * dependencies, installed only on their platform, and loaded with that `require`.
 */
export function appBuild(o: {
  entry: string[];
  /** Emit .d.ts (workspace packages' types inlined); their imports must stay real dependencies. */
  dts?: boolean;
  /** Dependencies left as imports (declared in the app's package.json `dependencies`). */
  external?: string[];
  /** Bundle these imports from source (an app's own entry, rather than its already-bundled dist). */
  alias?: Record<string, string>;
}): Options {
  const base = packageBuild({ entry: o.entry, bin: true });
  return {
    ...base,
    dts: o.dts ? { resolve: [/^@bramble\//] } : false,
    sourcemap: false,
    splitting: false,
    noExternal: [/.*/],
    external: [/^@bramble\/tftp-linux-/, ...(o.external ?? [])],
    banner: {
      js: [
        '#!/usr/bin/env node',
        "import { createRequire as __brambleCreateRequire } from 'node:module';",
        'const require = __brambleCreateRequire(import.meta.url);',
      ].join('\n'),
    },
    ...(o.alias ? { esbuildOptions: (options) => Object.assign(options, { alias: o.alias }) } : {}),
  };
}
