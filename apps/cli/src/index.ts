import { ManifestError } from '@bramble/manifest';
import { CliError } from './errors.js';
import { createProgram } from './program.js';

const program = createProgram();
program.parseAsync(process.argv).then(
  () => {
    // Let pending output flush; commands set process.exitCode for "ran but found problems".
  },
  (err: unknown) => {
    if (err instanceof ManifestError) {
      process.stderr.write(`bramble: invalid manifest ${err.message}\n`);
      process.exit(1);
    }
    if (err instanceof CliError) {
      process.stderr.write(`bramble: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    const e = err as { code?: unknown; message?: unknown };
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bramble: ${typeof e.code === 'string' ? `[${e.code}] ` : ''}${message}\n`);
    if (process.env.BRAMBLE_DEBUG) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    process.exit(1);
  },
);
