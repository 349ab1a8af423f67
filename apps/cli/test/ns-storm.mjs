// Runs a boot storm of virtual Pis inside a network namespace (a Node process cannot enter one):
//   ip netns exec <ns> node ns-storm.mjs '<StormOptions as JSON>'
// Prints the StormReport as JSON on stdout.
import { bootStorm } from '@bramble/virtual-pi';

const arg = process.argv[2];
if (!arg) throw new Error('usage: ns-storm.mjs <json>');
const report = await bootStorm(JSON.parse(arg));
process.stdout.write(`${JSON.stringify(report)}\n`);
