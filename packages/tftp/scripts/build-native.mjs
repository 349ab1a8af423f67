#!/usr/bin/env node
// Builds the optional native data pump (native/pump.c -> dist/tftp_pump.node) with the system C compiler and
// the Node-API headers that ship with Node. No node-gyp, no downloads. Without a compiler or headers the
// package still works (the TypeScript sender is used); set BRAMBLE_TFTP_NATIVE_REQUIRED=1 to make that an error.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..'); // import.meta.dirname needs Node 20.11
const src = join(pkg, 'native', 'pump.c');
const out = join(pkg, 'dist', 'tftp_pump.node');
const required = process.env.BRAMBLE_TFTP_NATIVE_REQUIRED === '1';

function fail(msg) {
  if (required) {
    console.error(`@bramble/tftp native pump: ${msg}`);
    process.exit(1);
  }
  console.warn(`@bramble/tftp native pump not built (${msg}); the TypeScript sender will be used.`);
  process.exit(0);
}

if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs && !process.argv.includes('--force'))
  process.exit(0);
if (process.platform !== 'linux') fail(`epoll pump is Linux-only (platform ${process.platform})`);
const candidates = [
  join(dirname(process.execPath), '..', 'include', 'node'),
  join(homedir(), '.cache', 'node-gyp', process.versions.node, 'include', 'node'),
  '/usr/include/node',
];
const include = candidates.find((d) => existsSync(join(d, 'node_api.h')));
if (!include) fail(`no node_api.h in ${candidates.join(', ')}`);
const cc = process.env.CC ?? 'cc';
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
try {
  execFileSync(
    cc,
    [
      '-O2',
      '-std=gnu11',
      '-Wall',
      '-Wextra',
      '-Wno-unused-parameter',
      '-fPIC',
      '-shared',
      '-fvisibility=hidden',
      '-DNODE_GYP_MODULE_NAME=tftp_pump',
      `-I${include}`,
      '-o',
      tmp,
      src,
      '-lpthread',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
} catch (e) {
  fail(`${cc} failed: ${e.message}`);
}
renameSync(tmp, out); // atomic: a half-written addon is never loaded
console.log(`@bramble/tftp native pump built: ${out}`);
