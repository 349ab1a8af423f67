import pkg from '../package.json' with { type: 'json' };

/** The version from package.json (bundled at build time), so a changeset release bumps it too. */
export const VERSION: string = pkg.version;
