import { manifestJsonSchema } from '@bramble/manifest';
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('schema')
    .description("print the manifest's JSON Schema (for editors)")
    .addHelpText(
      'after',
      `
Examples:
  bramble schema > bramble.schema.json
  # then in bramble.yaml:  # yaml-language-server: $schema=./bramble.schema.json`,
    )
    .action(() => {
      process.stdout.write(`${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
    });
}
