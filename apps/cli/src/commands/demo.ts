import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifest } from '@bramble/manifest';
import { createLogger, startDaemon } from 'brambled';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { commandContext } from '../context.js';
import { CliError } from '../errors.js';
import { formatBytes, formatMs, type Output } from '../output.js';
import { type BootReport, loadVirtualPi, type PiModel } from '../packages.js';
import { provision } from '../store.js';
import { dhcpConfigText } from './dhcp.js';
import { nfsConfigText } from './nfs.js';

export const DEMO_NODES: readonly {
  hostname: string;
  model: PiModel;
  serial: string;
  mac: string;
  address: string;
}[] = [
  {
    hostname: 'rpi-k8s-01',
    model: 'pi3b+',
    serial: '1a2b3c01',
    mac: 'b8:27:eb:3c:01:01',
    address: '192.168.50.11',
  },
  {
    hostname: 'rpi-k8s-02',
    model: 'pi4',
    serial: '1a2b3c02',
    mac: 'dc:a6:32:3c:02:02',
    address: '192.168.50.12',
  },
  {
    hostname: 'rpi-k8s-03',
    model: 'pi400',
    serial: '1a2b3c03',
    mac: 'e4:5f:01:3c:03:03',
    address: '192.168.50.13',
  },
  {
    hostname: 'rpi-k8s-04',
    model: 'pi5',
    serial: '1a2b3c04',
    mac: '2c:cf:67:3c:04:04',
    address: '192.168.50.14',
  },
];

/** The built-in sample image (scripts/make-sample-image.sh), from dist/ or src/commands/. */
export function sampleImagePath(): string {
  for (const rel of ['../fixtures/', '../../fixtures/', '../../../fixtures/']) {
    const p = fileURLToPath(new URL(`${rel}sample-bookworm.img.xz`, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new CliError('NO_SAMPLE', 'the sample image apps/cli/fixtures/sample-bookworm.img.xz is missing');
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'provision four nodes from a built-in sample image, serve them on loopback and boot four virtual Pis',
    )
    .option('--keep', 'keep the temporary state directory and print where it is')
    .option('--image <file>', 'use this image instead of the built-in sample')
    .addHelpText(
      'after',
      `
Examples:
  bramble demo
  bramble demo --json          # the four boot reports as JSON
  bramble demo --keep -v       # keep the state dir, log every boot step

No root needed: everything runs on 127.0.0.1 high ports. The virtual Pis use TFTP only — DHCP needs
ports 67/68 (root or a network namespace), so the demo prints the DHCP config a real cluster needs.`,
    )
    .action(async (options: { keep?: boolean; image?: string }, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      const started = Date.now();
      const dir = await mkdtemp(join(tmpdir(), 'bramble-demo-'));
      let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
      try {
        const manifestPath = await writeDemoManifest(dir, options.image ?? sampleImagePath());
        const manifest = await loadManifest(manifestPath);
        out.note(`bramble demo: state in ${dir}`);
        for (const entry of manifest.manifest.nodes) {
          await provision(manifest, entry, out, { hostKeyTypes: ['ed25519'] }); // one key type keeps the demo quick
          out.note(`  provisioned ${entry.hostname} (${entry.model})`);
        }
        const logger = createLogger({ level: globalOptions.verbose ? 'info' : 'error' });
        daemon = await startDaemon({ manifestPath, logger, watch: false });
        const tftp = daemon.tftpAddress();
        out.note(
          `  brambled serving TFTP on ${tftp.address}:${tftp.port}, HTTP on ${daemon.httpAddress()?.port ?? '-'}`,
        );
        out.note('  booting four virtual Pis over TFTP only (no DHCP on loopback without root)');
        const reports = await bootDemoPis(tftp);
        // What a real cluster on 192.168.50.0/24 with this host at .1 would use.
        const real = { ...manifest, manifest: { ...manifest.manifest, server: { address: '192.168.50.1' } } };
        const exportsText = await nfsConfigText(real, 'exports');
        const dhcpText = await dhcpConfigText(real, 'dnsmasq');
        if (globalOptions.json) out.data({ reports, exports: exportsText, dhcp: dhcpText });
        else {
          printDemo(out, reports, exportsText, dhcpText);
          out.print(
            `\ndemo finished in ${formatMs(Date.now() - started)}${options.keep ? `; state kept in ${dir}` : ''}`,
          );
        }
        if (reports.some((report) => report.verdict !== 'would boot')) process.exitCode = 1;
      } finally {
        await daemon?.close({ deadlineMs: 500 });
        if (!options.keep) await rm(dir, { recursive: true, force: true });
      }
    });
}

/** The demo's manifest: loopback TFTP/HTTP on ephemeral ports, the four demo nodes on `image`. */
async function writeDemoManifest(dir: string, image: string): Promise<string> {
  const manifestPath = join(dir, 'bramble.yaml');
  await writeFile(
    manifestPath,
    `# written by bramble demo\n${stringify({
      version: 1,
      server: { address: '127.0.0.1' },
      stateDir: './state',
      tftp: { listen: '127.0.0.1:0', singlePort: false },
      dhcp: {
        mode: 'external',
        subnet: '192.168.50.0/24',
        rangeStart: '192.168.50.100',
        rangeEnd: '192.168.50.200',
      },
      nfs: { kind: 'kernel', version: '3' },
      http: { listen: '127.0.0.1:0' },
      images: { sample: image },
      nodes: DEMO_NODES.map((demoNode) => ({ ...demoNode, image: 'sample', user: { name: 'pi' } })),
    })}`,
  );
  return manifestPath;
}

type DemoReport = BootReport & { hostname: string };

/** Boot the four demo Pis at once over TFTP only. */
async function bootDemoPis(tftp: { address: string; port: number }): Promise<DemoReport[]> {
  const virtualPi = await loadVirtualPi();
  return Promise.all(
    DEMO_NODES.map(async (demoNode) => ({
      hostname: demoNode.hostname,
      ...(await virtualPi.bootVirtualPi({
        model: demoNode.model,
        serial: demoNode.serial,
        mac: demoNode.mac,
        dhcp: false,
        tftp: { host: tftp.address, port: tftp.port },
        timeoutMs: 60_000,
      })),
    })),
  );
}

function printDemo(out: Output, reports: DemoReport[], exportsText: string, dhcpText: string): void {
  out.raw('');
  out.table(
    reports.map((report) => ({
      node: report.hostname,
      model: report.model,
      files: report.files.length,
      bytes: formatBytes(report.totalBytes),
      time: formatMs(report.durationMs),
      verdict:
        report.verdict === 'would boot'
          ? out.green(report.verdict)
          : out.red(`${report.verdict}: ${report.reason ?? ''}`),
    })),
    [
      { key: 'node', header: 'NODE' },
      { key: 'model', header: 'MODEL' },
      { key: 'files', header: 'FILES', align: 'right' },
      { key: 'bytes', header: 'BYTES', align: 'right' },
      { key: 'time', header: 'TIME', align: 'right' },
      { key: 'verdict', header: 'VERDICT' },
    ],
  );
  for (const report of reports)
    if (report.nfsRoot)
      out.print(
        `  ${report.hostname} would mount ${report.nfsRoot.server}:${report.nfsRoot.path} (NFS v${report.nfsRoot.version})`,
      );
  out.print(`\n${out.bold('NFS exports a real cluster would use')} (bramble nfs config --format exports):`);
  out.print(exportsText.trimEnd());
  out.print(`\n${out.bold('DHCP config a real cluster would use')} (bramble dhcp config --format dnsmasq):`);
  out.print(dhcpText.trimEnd());
}
