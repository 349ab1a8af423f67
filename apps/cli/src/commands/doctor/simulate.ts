import type { LoadedManifest } from '@bramble/manifest';
import { definedOnly, type PiModelName } from '@bramble/pi';
import type { GlobalOptions } from '../../context.js';
import { UsageError } from '../../errors.js';
import type { Output } from '../../output.js';
import { loadVirtualPi, type PiModel } from '../../packages.js';
import { requireTftpServer } from '../../probe.js';

export interface SimulateOptions {
  model?: PiModelName;
  serial?: string;
  server?: string;
  dhcp?: string;
  timeout: number;
}

/** Boot a virtual Pi against the configured (or given) server and print its boot report. */
export async function simulateBoot(
  globalOptions: GlobalOptions,
  out: Output,
  manifest: LoadedManifest,
  options: SimulateOptions,
): Promise<void> {
  const nodes = manifest.manifest.nodes;
  const node =
    nodes.find((entry) =>
      options.serial ? entry.serial === options.serial : options.model ? entry.model === options.model : true,
    ) ?? nodes[0];
  const model = options.model ?? node?.model ?? 'pi4';
  const serial = options.serial ?? node?.serial;
  if (!serial) throw new UsageError('no --serial given and no node with a serial in the manifest');
  const { host, port } = tftpServer(manifest, options.server);
  if (!options.dhcp || options.server) await requireTftpServer(host, port);
  const virtualPi = await loadVirtualPi();
  const report = await virtualPi.bootVirtualPi({
    // modelSpec() refuses, with the reason, the table's models it does not simulate (3A+, Zero 2 W).
    model: model as PiModel,
    serial,
    ...definedOnly({ mac: node?.mac }),
    // With DHCP the TFTP server comes from the offer (like a real Pi) unless --server overrides it.
    dhcp: options.dhcp ? { server: options.dhcp } : false,
    tftp: options.dhcp && !options.server ? { port } : { host, port },
    timeoutMs: options.timeout,
  });
  if (globalOptions.json) out.data(report);
  else out.raw(virtualPi.formatReport(report));
  if (report.verdict !== 'would boot') process.exitCode = 1;
}

/** The manifest's TFTP listen address (0.0.0.0 as loopback), overridden by `--server ADDR[:PORT]`. */
function tftpServer(manifest: LoadedManifest, server: string | undefined): { host: string; port: number } {
  const listen = manifest.manifest.tftp.listen;
  let host = listen.address === '0.0.0.0' ? '127.0.0.1' : listen.address;
  let port = listen.port;
  if (server) {
    const [givenHost, givenPort] = server.split(':');
    host = givenHost || host;
    if (givenPort) port = Number(givenPort);
  }
  return { host, port };
}
