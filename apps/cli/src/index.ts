import { createProgram } from './program.js';

const program = createProgram();
program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`bramble: ${message}\n`);
  process.exit(1);
});
