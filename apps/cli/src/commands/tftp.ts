import type { Command } from 'commander';
import { registerGet } from './tftp/get.js';
import { registerServe } from './tftp/serve.js';

/** `bramble tftp`: one module per action under ./tftp/. */
export function register(program: Command): void {
  const tftp = program
    .command('tftp')
    .description('a standalone TFTP server and client (@bramble/tftp)')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble tftp serve --root ./tftp --listen 127.0.0.1:6969\n  bramble tftp get 127.0.0.1 bootcode.bin --port 6969',
    );
  registerServe(tftp);
  registerGet(tftp);
}
