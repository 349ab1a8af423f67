import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from 'tsup';
import { packageBuild } from './tsup.shared.ts';

/**
 * The apps (`bramble`, `brambled`) publish as self-contained bundles: the workspace packages and
 * every third-party dependency are inlined, so `npm i -g bramble` installs one package, not a tree.
 * The library packages stay unbundled (tsup.shared.ts). Bundled CommonJS dependencies (pino,
 * yauzl, ...) call `require`, which an ES module has not got: the banner provides one.
 */
export function appBuild(o: {
  entry: string[];
  dir: string;
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
    onSuccess: async () => copyNativePump(o.dir),
  };
}

/**
 * @bramble/tftp loads its native data pump from `./tftp_pump.node` beside its module; bundled into
 * an app, that module is the app's dist/, so the app ships the pump built for this machine (it
 * falls back to the TypeScript sender where that build does not load).
 */
function copyNativePump(dir: string): void {
  const built = join(dir, '..', '..', 'packages', 'tftp', 'dist', 'tftp_pump.node');
  if (existsSync(built)) copyFileSync(built, join(dir, 'dist', 'tftp_pump.node'));
}
