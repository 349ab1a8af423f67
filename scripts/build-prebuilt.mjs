#!/usr/bin/env node
// Builds the prebuilt native TFTP pump of one platform package (packages/tftp-linux-<arch>-gnu):
// packages/tftp/native/pump.c -> <package>/tftp_pump.node, with the C compiler for that arch
// (x64: cc; arm64: aarch64-linux-gnu-gcc, a cross compiler on x64 hosts) through @bramble/tftp's
// scripts/compile-pump.mjs (the one compiler invocation). Run in the platform package's directory (its
// `build` script). Users never compile: npm installs the package matching their platform.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePump, findNodeApiInclude, pumpUpToDate } from '../packages/tftp/scripts/compile-pump.mjs';

const pkgDir = process.cwd();
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const arch = pkg.cpu[0];
const out = join(pkgDir, 'tftp_pump.node');
const compilers = {
  x64: process.arch === 'x64' ? 'cc' : 'x86_64-linux-gnu-gcc',
  arm64: process.arch === 'arm64' ? 'cc' : 'aarch64-linux-gnu-gcc',
};
const cc = compilers[arch];
if (!cc) throw new Error(`${pkg.name}: no compiler known for cpu ${arch}`);
if (pumpUpToDate(out)) process.exit(0);
const include = findNodeApiInclude();
if (!include) throw new Error(`${pkg.name}: no node_api.h next to this Node`);
compilePump({ cc, include, out });
console.log(`${pkg.name}: built ${out} with ${cc}`);
