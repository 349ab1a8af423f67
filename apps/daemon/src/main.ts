import { Command } from 'commander';
import { VERSION } from './version.js';

const program = new Command('brambled')
  .description('The Bramble netboot daemon: TFTP, proxyDHCP, discovery and metrics for a cluster of Pis.')
  .version(VERSION, '-V, --version', 'print the version and exit')
  .exitOverride((err) => {
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    )
      process.exit(0);
    process.exit(2);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`brambled: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
