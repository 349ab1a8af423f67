import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { canBindPort, type LoadedManifest } from 'brambled';
import { type Command, Option } from 'commander';
import { globals, manifestFor, outputFor } from '../context.js';
import { UsageError } from '../errors.js';
import type { Output } from '../output.js';
import { loadVirtualPi, type PiModel } from '../packages.js';
import { requireTftpServer } from '../probe.js';
import { tftpDirName } from '../store.js';
import { checkRows } from './node.js';

const MODELS = ['pi3b', 'pi3b+', 'pi4', 'pi400', 'cm4', 'pi5'] as const;

interface Finding {
  check: string;
  ok: boolean;
  detail: string;
}

async function staticChecks(m: LoadedManifest): Promise<Finding[]> {
  const f: Finding[] = [];
  f.push({ check: 'manifest', ok: true, detail: `${m.path}: ${m.manifest.nodes.length} node(s)` });
  f.push({ check: 'state dir', ok: existsSync(m.stateDir), detail: m.stateDir });
  f.push({
    check: 'bootcode.bin',
    ok: existsSync(join(m.tftpRoot, 'bootcode.bin')),
    detail: `${join(m.tftpRoot, 'bootcode.bin')} (Pi 3 ROMs fetch it from the TFTP root)`,
  });
  const port = m.manifest.tftp.listen.port;
  f.push({
    check: 'tftp port',
    ok: canBindPort(port) || !!process.env.LISTEN_FDS,
    detail: canBindPort(port)
      ? `UDP ${port} can be bound`
      : `UDP ${port} needs root, CAP_NET_BIND_SERVICE or socket activation`,
  });
  for (const n of m.manifest.nodes) {
    const dir = join(m.tftpRoot, tftpDirName(n));
    f.push({ check: `${n.hostname} tftp`, ok: existsSync(dir), detail: dir });
    f.push({
      check: `${n.hostname} nfs root`,
      ok: existsSync(join(m.nfsRoot, n.hostname)),
      detail: join(m.nfsRoot, n.hostname),
    });
  }
  try {
    for (const p of await checkRows(m))
      f.push({ check: p.node, ok: p.severity !== 'error', detail: `${p.message} — fix: ${p.fix}` });
  } catch (e) {
    f.push({ check: 'node check', ok: false, detail: (e as Error).message });
  }
  return f;
}

function printFindings(out: Output, findings: Finding[]): void {
  out.table(findings, [
    { key: 'ok', header: '', format: (v) => (v ? out.green('ok') : out.red('FAIL')) },
    { key: 'check', header: 'CHECK' },
    { key: 'detail', header: 'DETAIL' },
  ]);
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check the setup; with --simulate, boot a virtual Pi against the configured server')
    .option('--simulate', 'boot a virtual Pi (TFTP, and DHCP with --dhcp) and print its boot report')
    .addOption(new Option('--model <model>', 'virtual Pi model').choices([...MODELS]))
    .option('--serial <serial>', 'serial of the virtual Pi (default: a node of that model)')
    .option('--server <addr:port>', 'TFTP server to boot from (default: the manifest)')
    .option('--dhcp <addr>', 'also do the DHCP exchange with this server (needs port 67/68: root)')
    .option('--timeout <ms>', 'give up after this long', (v) => Number(v), 60_000)
    .addHelpText(
      'after',
      `
Examples:
  bramble doctor
  bramble doctor --simulate --model pi4
  bramble doctor --simulate --model pi5 --serial 9ffefdef --server 127.0.0.1:6969 --json`,
    )
    .action(
      async (
        o: {
          simulate?: boolean;
          model?: PiModel;
          serial?: string;
          server?: string;
          dhcp?: string;
          timeout: number;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const out = outputFor(g);
        const m = await manifestFor(g);
        if (!o.simulate) {
          const findings = await staticChecks(m);
          if (g.json) out.data(findings);
          else printFindings(out, findings);
          if (findings.some((x) => !x.ok)) process.exitCode = 1;
          return;
        }
        const node =
          m.manifest.nodes.find((n) =>
            o.serial ? n.serial === o.serial : o.model ? n.model === o.model : true,
          ) ?? m.manifest.nodes[0];
        const model = o.model ?? (node?.model as PiModel | undefined) ?? 'pi4';
        const serial = o.serial ?? node?.serial;
        if (!serial) throw new UsageError('no --serial given and no node with a serial in the manifest');
        let host =
          m.manifest.tftp.listen.address === '0.0.0.0' ? '127.0.0.1' : m.manifest.tftp.listen.address;
        let port = m.manifest.tftp.listen.port;
        if (o.server) {
          const [h, p] = o.server.split(':');
          host = h || host;
          if (p) port = Number(p);
        }
        if (!o.dhcp || o.server) await requireTftpServer(host, port);
        const vp = await loadVirtualPi();
        const report = await vp.bootVirtualPi({
          model,
          serial,
          ...(node?.mac ? { mac: node.mac } : {}),
          // With DHCP the TFTP server comes from the offer (like a real Pi) unless --server overrides it.
          dhcp: o.dhcp ? { server: o.dhcp } : false,
          tftp: o.dhcp && !o.server ? { port } : { host, port },
          timeoutMs: o.timeout,
        });
        if (g.json) out.data(report);
        else out.raw(vp.formatReport(report));
        if (report.verdict !== 'would boot') process.exitCode = 1;
      },
    );
}
