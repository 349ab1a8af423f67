import { Command, Option } from 'commander';
import { register as demo } from './commands/demo.js';
import { register as dhcp } from './commands/dhcp.js';
import { register as doctor } from './commands/doctor.js';
import { register as eeprom } from './commands/eeprom.js';
import { register as image } from './commands/image.js';
import { register as init } from './commands/init.js';
import { register as logs } from './commands/logs.js';
import { register as nfs } from './commands/nfs.js';
import { register as node } from './commands/node.js';
import { register as schema } from './commands/schema.js';
import { register as serve } from './commands/serve.js';
import { register as status } from './commands/status.js';
import { register as tftp } from './commands/tftp.js';
import { VERSION } from './version.js';

export function createProgram(): Command {
  const program = new Command('bramble')
    .description('Network-boot a cluster of Raspberry Pis with no SD cards.')
    .version(VERSION, '-V, --version', 'print the version and exit')
    .option(
      '-c, --config <file>',
      'the cluster manifest (env BRAMBLE_CONFIG)',
      process.env.BRAMBLE_CONFIG ?? 'bramble.yaml',
    )
    .option('--json', 'machine-readable output on stdout')
    .addOption(new Option('-q, --quiet', 'only errors and requested output').conflicts('verbose'))
    .option('-v, --verbose', 'more detail on stderr')
    .option('-y, --yes', 'do not ask before destructive actions')
    .option('--no-color', 'no colours (also: NO_COLOR=1; colours are only used on a TTY)')
    .showHelpAfterError()
    .enablePositionalOptions(false)
    .exitOverride((err) => {
      // commander: --help and --version exit 0; usage errors exit 2 (our convention), including a
      // group command given without its subcommand (commander shows the help with exitCode 1).
      if (err.code === 'commander.version' || err.code === 'commander.helpDisplayed') process.exit(0);
      if (err.code === 'commander.help') process.exit(err.exitCode === 0 ? 0 : 2);
      process.exit(2);
    })
    .addHelpText(
      'after',
      `
Examples:
  bramble demo                                   # see it work, no root needed
  bramble init --server 192.168.1.10
  bramble node add rpi-k8s-01 --serial 7a1b2c3d --image ./raspios.img.xz --nfs-server 192.168.1.10
  bramble dhcp config --format dnsmasq
  sudo bramble serve

Exit codes: 0 ok, 1 failure, 2 usage error.`,
    );
  for (const reg of [init, schema, image, node, dhcp, nfs, serve, status, logs, tftp, doctor, eeprom, demo])
    reg(program);
  return program;
}
