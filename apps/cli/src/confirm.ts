/** Confirmation before destructive actions: --yes skips it; with no TTY to ask on, refuse (exit 2). */
import { createInterface } from 'node:readline/promises';
import { UsageError } from './errors.js';

export async function confirm(question: string, options: { yes?: boolean | undefined }): Promise<boolean> {
  if (options.yes) return true;
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    throw new UsageError(
      `${question} — refusing without confirmation: no terminal to ask on. Pass --yes to proceed.`,
    );
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
