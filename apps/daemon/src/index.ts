/** @packageDocumentation brambled as a library: the daemon wiring, for the CLI's `serve` and tests. */
export { VERSION } from './version.js';
