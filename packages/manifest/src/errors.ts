/** Errors of @bramble/manifest; `code` is stable and meant for programs, the message for people. */

/** One problem in a manifest, by path: `nodes[2].serial: expected 8 hex digits`. */
export interface ManifestProblem {
  path: string;
  message: string;
}

/** Base error: `INVALID_MANIFEST` (see `problems`) or a subclass's code. */
export class ManifestError extends Error {
  readonly code: string;

  constructor(
    readonly file: string,
    readonly problems: ManifestProblem[],
    code = 'INVALID_MANIFEST',
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems
        .map((problem) => `  ${problem.path ? `${problem.path}: ` : ''}${problem.message}`)
        .join('\n')}`,
    );
    this.name = new.target.name;
    this.code = code;
  }
}

/** The manifest file is larger than `limitBytes` (`MANIFEST_TOO_LARGE`); nothing beyond the limit was read. */
export class ManifestTooLargeError extends ManifestError {
  constructor(
    file: string,
    readonly limitBytes: number,
  ) {
    super(
      file,
      [
        {
          path: '',
          message: `larger than the ${limitBytes}-byte manifest limit; a bramble.yaml is a few KiB`,
        },
      ],
      'MANIFEST_TOO_LARGE',
    );
  }
}
