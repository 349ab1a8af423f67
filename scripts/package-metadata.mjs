#!/usr/bin/env node
// The one home of the published packages' shared metadata: the root package.json's `repository`,
// `homepage`, `bugs`, `license` and `publishedEngines` are written into every workspace package.json
// (with each package's own `directory` and README link). `--check` changes nothing and exits 1 when
// a package disagrees (run by `pnpm lint` and before packing).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const repoUrl = rootPkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
const dirs = [
  'packages/logger',
  'packages/pi',
  'packages/image',
  'packages/boot-tree',
  'packages/tftp',
  'packages/dhcp',
  'packages/eeprom',
  'packages/manifest',
  'packages/virtual-pi',
]
  .concat([
    'packages/testkit',
    'apps/cli',
    'apps/daemon',
    'packages/tftp-linux-x64-gnu',
    'packages/tftp-linux-arm64-gnu',
  ])
  .map((dir) => join(root, dir));

function expected(pkg, dir) {
  const directory = relative(root, dir);
  return {
    ...pkg,
    license: rootPkg.license,
    engines: { ...pkg.engines, node: rootPkg.publishedEngines.node },
    homepage: `${repoUrl}/tree/main/${directory}#readme`,
    bugs: rootPkg.bugs,
    repository: { ...rootPkg.repository, directory },
  };
}

let stale = 0;
for (const dir of dirs) {
  const file = join(dir, 'package.json');
  const text = readFileSync(file, 'utf8');
  const want = `${JSON.stringify(expected(JSON.parse(text), dir), null, 2)}\n`;
  if (want === text) continue;
  stale++;
  if (check)
    console.error(`package-metadata: ${relative(root, file)} differs from the root package.json's metadata`);
  else writeFileSync(file, want);
}
if (check && stale > 0) {
  console.error('package-metadata: run `node scripts/package-metadata.mjs` to update');
  process.exit(1);
}
