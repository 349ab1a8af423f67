/**
 * Runs one virtual Pi (or a storm) inside a network namespace: `ip netns exec <ns> tsx ns-runner.ts '<json>'`.
 * Prints the report as JSON on stdout. Used by the dnsmasq tests, since a Node process cannot enter a namespace.
 */
import { bootStorm, bootVirtualPi } from '../../src/index.js';

const arg = process.argv[2];
if (!arg) throw new Error('usage: ns-runner.ts <json options>');
const input = JSON.parse(arg) as { storm?: boolean } & Record<string, unknown>;
const result = input.storm
  ? await bootStorm(input as unknown as Parameters<typeof bootStorm>[0])
  : await bootVirtualPi(input as unknown as Parameters<typeof bootVirtualPi>[0]);
process.stdout.write(`${JSON.stringify(result)}\n`);
