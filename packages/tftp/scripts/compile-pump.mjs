// Compiles the native data pump (native/pump.c) into a Node-API addon: the one compiler invocation of
// scripts/build-native.mjs (this package's dist/tftp_pump.node, system cc) and of the repository's
// scripts/build-prebuilt.mjs (the prebuilt tftp-linux-<arch>-gnu packages, possibly a cross compiler).
// Node-API headers come with Node itself (architecture-independent): no node-gyp, no downloads.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** native/pump.c of @bramble/tftp. */
export const PUMP_SOURCE = join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'pump.c');

/** Where node_api.h may be: beside this Node, node-gyp's cache, Debian's nodejs headers. */
export const NODE_API_INCLUDE_DIRS = [
  join(dirname(process.execPath), '..', 'include', 'node'),
  join(homedir(), '.cache', 'node-gyp', process.versions.node, 'include', 'node'),
  '/usr/include/node',
];

/** The first of NODE_API_INCLUDE_DIRS holding node_api.h, or undefined. */
export function findNodeApiInclude() {
  return NODE_API_INCLUDE_DIRS.find((dir) => existsSync(join(dir, 'node_api.h')));
}

/** `out` exists and is newer than pump.c, and `--force` was not given: nothing to do. */
export function pumpUpToDate(out, argv = process.argv) {
  return (
    existsSync(out) && statSync(out).mtimeMs >= statSync(PUMP_SOURCE).mtimeMs && !argv.includes('--force')
  );
}

/**
 * Compile pump.c with `cc` against the headers in `include` into `out`, through a temporary file renamed
 * into place (atomic: a half-written addon is never loaded). Throws when the compiler fails.
 */
export function compilePump({ cc, include, out }) {
  mkdirSync(dirname(out), { recursive: true });
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
      '-DNODE_GYP_MODULE_NAME=tftp_pump',
      `-I${include}`,
      '-o',
      tmp,
      PUMP_SOURCE,
      '-lpthread',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  renameSync(tmp, out);
}
