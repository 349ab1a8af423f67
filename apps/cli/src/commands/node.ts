import type { Command } from 'commander';
import { registerAdd } from './node/add.js';
import { registerAdopt } from './node/adopt.js';
import { registerCheck } from './node/check.js';
import { registerLs } from './node/ls.js';
import { registerProvision } from './node/provision.js';
import { registerRm } from './node/rm.js';

export { checkRows } from './node/check.js';

/** `bramble node`: one module per action under ./node/. */
export function register(program: Command): void {
  const node = program
    .command('node')
    .description('manage nodes (add, ls, rm, check, adopt)')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble node add rpi-k8s-01 --serial 7a1b2c3d --image bookworm\n  bramble node ls --discovered',
    );
  for (const registerAction of [
    registerAdd,
    registerAdopt,
    registerProvision,
    registerLs,
    registerRm,
    registerCheck,
  ])
    registerAction(node);
}
