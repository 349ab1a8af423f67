#!/usr/bin/env node
// Builds the prebuilt native TFTP pump of one platform package (packages/tftp-linux-<arch>-gnu):
// packages/tftp/native/pump.c -> <package>/tftp_pump.node, with the C compiler for that arch
// (x64: cc; arm64: aarch64-linux-gnu-gcc, a cross compiler on x64 hosts) and the Node-API headers
// that ship with Node (architecture-independent). Run in the platform package's directory (its
// `build` script). Users never compile: npm installs the package matching their platform.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = process.cwd();
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const arch = pkg.cpu[0];
const src = join(root, 'packages', 'tftp', 'native', 'pump.c');
const out = join(pkgDir, 'tftp_pump.node');
const compilers = {
  x64: process.arch === 'x64' ? 'cc' : 'x86_64-linux-gnu-gcc',
  arm64: process.arch === 'arm64' ? 'cc' : 'aarch64-linux-gnu-gcc',
};
const cc = compilers[arch];
if (!cc) throw new Error(`${pkg.name}: no compiler known for cpu ${arch}`);
if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs && !process.argv.includes('--force'))
  process.exit(0);
const include = [
  join(dirname(process.execPath), '..', 'include', 'node'),
  join(homedir(), '.cache', 'node-gyp', process.versions.node, 'include', 'node'),
  '/usr/include/node',
].find((dir) => existsSync(join(dir, 'node_api.h')));
if (!include) throw new Error(`${pkg.name}: no node_api.h next to this Node`);
const tmp = `${out}.${process.pid}.tmp`;
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
  ].concat(['-DNODE_GYP_MODULE_NAME=tftp_pump', `-I${include}`, '-o', tmp, src, '-lpthread']),
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
renameSync(tmp, out); // atomic: a half-written addon is never loaded
console.log(`${pkg.name}: built ${out} with ${cc}`);
