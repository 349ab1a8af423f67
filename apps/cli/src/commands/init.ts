import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseManifestText } from '@bramble/manifest';
import { type Command, Option } from 'commander';
import { confirm } from '../confirm.js';
import { globals, outputFor } from '../context.js';
import { UsageError } from '../errors.js';

export function manifestTemplate(options: {
  server: string;
  stateDir: string;
  dhcp: string;
  nfs: string;
}): string {
  return `# bramble.yaml — the cluster manifest (JSON Schema: \`bramble schema\`)
version: 1
server:
  address: ${options.server}        # what the Pis reach: TFTP server and NFS server
stateDir: ${options.stateDir}       # images/, tftp/, nfs/, discovered.json
tftp:
  listen: 0.0.0.0:69
  singlePort: false           # true: every transfer on port 69 (NAT, containers, firewalls)
  engine: auto                # auto: native data pump when built; js: the TypeScript sender
dhcp:
  mode: ${options.dhcp}             # external: print a config for your DHCP server; proxy: brambled answers Pis
nfs:
  kind: ${options.nfs}              # kernel | ganesha | compose
http:
  listen: 127.0.0.1:9469      # /healthz /metrics /nodes
images: {}
  # bookworm: ./2024-11-19-raspios-bookworm-arm64-lite.img.xz
nodes: []
  # - hostname: rpi-k8s-01
  #   serial: 7a1b2c3d
  #   model: pi4
  #   image: bookworm
`;
}

export function register(program: Command): void {
  program
    .command('init')
    .description('write a new bramble.yaml')
    .requiredOption('--server <addr>', 'the address the Pis reach this server at')
    .option('--state <dir>', 'state directory', '/var/lib/bramble')
    .addOption(new Option('--dhcp <mode>', 'DHCP mode').choices(['external', 'proxy']).default('external'))
    .addOption(
      new Option('--nfs <kind>', 'NFS server kind')
        .choices(['kernel', 'ganesha', 'compose'])
        .default('kernel'),
    )
    .option('--force', 'overwrite an existing manifest')
    .addHelpText(
      'after',
      `
Examples:
  bramble init --server 192.168.1.10
  bramble init --server 10.0.0.1 --state ./state --dhcp proxy --nfs ganesha -c lab.yaml`,
    )
    .action(
      async (
        options: { server: string; state: string; dhcp: string; nfs: string; force?: boolean },
        cmd: Command,
      ) => {
        const globalOptions = globals(cmd);
        const out = outputFor(globalOptions);
        const text = manifestTemplate({
          server: options.server,
          stateDir: options.state,
          dhcp: options.dhcp,
          nfs: options.nfs,
        });
        parseManifestText(text, globalOptions.config); // validates --server etc. (exit 1 with the problem by path)
        if (existsSync(globalOptions.config)) {
          if (!options.force)
            throw new UsageError(`${globalOptions.config} exists: pass --force to overwrite it`);
          if (!(await confirm(`overwrite ${globalOptions.config}?`, globalOptions))) return;
        }
        await writeFile(globalOptions.config, text);
        out.print(
          `wrote ${globalOptions.config}; next: bramble image add NAME FILE, then bramble node add ...`,
        );
      },
    );
}
