import { Command } from 'commander';
import { VERSION } from './version.js';

export function createProgram(): Command {
  const program = new Command('bramble')
    .description('Network-boot a cluster of Raspberry Pis with no SD cards.')
    .version(VERSION, '-V, --version', 'print the version and exit')
    .showHelpAfterError()
    .exitOverride((err) => {
      // commander: help and version exit 0; usage errors exit 2 (our convention).
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      )
        process.exit(0);
      process.exit(2);
    });
  return program;
}
