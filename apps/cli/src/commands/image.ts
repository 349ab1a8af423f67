import type { Command } from 'commander';
import { registerAdd } from './image/add.js';
import { registerExtract } from './image/extract.js';
import { registerInspect } from './image/inspect.js';
import { registerLs } from './image/ls.js';
import { registerPrune } from './image/prune.js';
import { registerRm } from './image/rm.js';
import { registerImageUpdate } from './image/update.js';

/** `bramble image`: one module per action under ./image/. */
export function register(program: Command): void {
  const image = program
    .command('image')
    .description('manage OS images (add, ls, inspect, rm, extract, update, prune)')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble image add bookworm ./raspios-bookworm-arm64-lite.img.xz\n  bramble image ls --json',
    );
  for (const registerAction of [
    registerAdd,
    registerLs,
    registerInspect,
    registerRm,
    registerImageUpdate,
    registerPrune,
    registerExtract,
  ])
    registerAction(image);
}
