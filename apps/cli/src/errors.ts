/** CLI errors: `exitCode` 1 for failures, 2 for usage errors; `code` is stable for scripts. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: 1 | 2 = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super('USAGE', message, 2);
  }
}
