#!/usr/bin/env node
// Builds the optional native data pump (native/pump.c -> dist/tftp_pump.node) with the system C compiler
// (compile-pump.mjs). Without a compiler or headers the package still works (the TypeScript sender is used);
// set BRAMBLE_TFTP_NATIVE_REQUIRED=1 to make that an error.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePump, findNodeApiInclude, NODE_API_INCLUDE_DIRS, pumpUpToDate } from './compile-pump.mjs';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..'); // import.meta.dirname needs Node 20.11
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

if (pumpUpToDate(out)) process.exit(0);
if (process.platform !== 'linux') fail(`epoll pump is Linux-only (platform ${process.platform})`);
const include = findNodeApiInclude();
if (!include) fail(`no node_api.h in ${NODE_API_INCLUDE_DIRS.join(', ')}`);
const cc = process.env.CC ?? 'cc';
try {
  compilePump({ cc, include, out });
} catch (e) {
  fail(`${cc} failed: ${e.message}`);
}
console.log(`@bramble/tftp native pump built: ${out}`);
