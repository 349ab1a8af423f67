#!/usr/bin/env node
// Runs before `pnpm pack` / `pnpm publish` in a package directory (its `prepack` script): checks the
// shared metadata, builds the package and what it depends on (turbo, cached), copies the root
// LICENSE in, and runs publint, so a packed tarball is never empty or missing its build.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = process.cwd();
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const run = (cmd, args, cwd = root) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });

run(process.execPath, [join(root, 'scripts', 'package-metadata.mjs'), '--check']);
run(join(root, 'node_modules', '.bin', 'turbo'), [
  'run',
  'build',
  `--filter=${pkg.name}...`,
  '--output-logs=errors-only',
]);
copyFileSync(join(root, 'LICENSE'), join(pkgDir, 'LICENSE'));
const entries = [...Object.values(pkg.bin ?? {}), pkg.exports?.['.']?.default].filter(Boolean);
for (const entry of entries) {
  if (!existsSync(join(pkgDir, entry))) {
    console.error(`prepack: ${pkg.name}: ${entry} was not built`);
    process.exit(1);
  }
}
run(join(root, 'node_modules', '.bin', 'publint'), ['--strict'], pkgDir);
