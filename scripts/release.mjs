#!/usr/bin/env node
// The release flow (`pnpm release`): publishes only what the full test command passed on.
//   node scripts/release.mjs --mark-tested   last step of `pnpm test:all`: records the tested commit
//   pnpm release --dry-run                   checks, then packs every package (prepack: build + publint)
//   pnpm release                             checks, `changeset version`, commit, `changeset publish`
// The checks: a clean working tree whose HEAD is the commit `pnpm test:all` last passed on (with a
// clean tree), and at least one changeset to release.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'node_modules', '.cache', 'bramble', 'tested.json');
const publishable = ['packages/logger', 'packages/pi', 'packages/manifest', 'packages/eeprom']
  .concat(['packages/image', 'packages/boot-tree', 'packages/tftp', 'packages/dhcp'])
  .concat(['packages/tftp-linux-x64-gnu', 'packages/tftp-linux-arm64-gnu'])
  .concat(['packages/virtual-pi', 'apps/daemon', 'apps/cli']);
const args = process.argv.slice(2);

const git = (...a) => execFileSync('git', a, { cwd: root, encoding: 'utf8' }).trim();
const run = (cmd, a, cwd = root) => execFileSync(cmd, a, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
function refuse(message) {
  console.error(`release: refusing: ${message}`);
  process.exit(1);
}
const head = () => git('rev-parse', 'HEAD');
const dirty = () => git('status', '--porcelain', '--untracked-files=no') !== '';

if (args.includes('--mark-tested')) {
  mkdirSync(dirname(marker), { recursive: true });
  writeFileSync(
    marker,
    `${JSON.stringify({ commit: head(), clean: !dirty(), at: new Date().toISOString() })}\n`,
  );
  console.log(
    `release: recorded a passing test run for ${head()}${dirty() ? ' (uncommitted changes: not releasable)' : ''}`,
  );
  process.exit(0);
}

if (dirty()) refuse('the working tree has uncommitted changes');
let tested;
try {
  tested = JSON.parse(readFileSync(marker, 'utf8'));
} catch {
  refuse('no passing `pnpm test:all` recorded on this checkout: run it first');
}
if (tested.commit !== head() || !tested.clean)
  refuse(
    `\`pnpm test:all\` last passed on ${tested.commit}${tested.clean ? '' : ' (with uncommitted changes)'}, not on HEAD ${head()}: run it again`,
  );
const changesets = readdirSync(join(root, '.changeset')).filter(
  (f) => f.endsWith('.md') && f !== 'README.md',
);
if (changesets.length === 0) refuse('no changesets in .changeset/: nothing to release');

if (args.includes('--dry-run')) {
  const out = mkdtempSync(join(tmpdir(), 'bramble-release-'));
  for (const dir of publishable) run('pnpm', ['pack', '--pack-destination', out], join(root, dir));
  console.log(`release: dry run: ${changesets.length} changesets; tarballs in ${out}`);
  process.exit(0);
}
run('pnpm', ['changeset', 'version']);
run('pnpm', ['install', '--lockfile-only']);
git('add', '-A');
git('commit', '-m', 'release: version packages');
// `changeset publish` runs `pnpm publish` per package: prepack builds and lints each one.
run('pnpm', ['changeset', 'publish']);
run('git', ['push', '--follow-tags']);
