import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedManifest } from '@bramble/manifest';
import {
  definedOnly,
  PI_BOOT_MENU_TEXT_PADDED,
  PI_MODELS,
  type PiModelName,
  piModel,
  tftpDirName,
} from '@bramble/pi';
import { canBindPort } from 'brambled';
import { type Command, Option } from 'commander';
import { globals, manifestFor, outputFor } from '../context.js';
import { UsageError } from '../errors.js';
import type { Output } from '../output.js';
import { loadDhcp, loadVirtualPi, type PiModel } from '../packages.js';
import { requireTftpServer } from '../probe.js';
import { addDiscoverOptions, runDiscover, wantsDiscover } from './doctor-discover.js';
import { checkRows } from './node.js';

/** Where DHCP server configs usually live (dnsmasq, ISC dhcpd, Kea), checked when --dhcp-config is not given. */
const DHCP_CONFIG_PLACES = [
  '/etc/dnsmasq.conf',
  '/etc/dnsmasq.d',
  '/etc/dhcp/dhcpd.conf',
  '/etc/kea/kea-dhcp4.conf',
];

interface Finding {
  check: string;
  ok: boolean;
  detail: string;
}

async function dhcpConfigFiles(given: readonly string[] | undefined): Promise<string[]> {
  if (given && given.length > 0) return [...given];
  const files: string[] = [];
  for (const place of DHCP_CONFIG_PLACES) {
    if (!existsSync(place)) continue;
    if (place.endsWith('.d')) {
      const entries = await readdir(place).catch(() => [] as string[]);
      files.push(...entries.filter((e) => e.endsWith('.conf')).map((e) => join(place, e)));
    } else files.push(place);
  }
  return files;
}

/**
 * Option 43 for the models in the manifest (the @bramble/pi table): a Pi 3B ROM needs
 * "Raspberry Pi Boot   ". brambled's proxyDHCP pads it for 3B clients by itself; an external DHCP
 * server's config is read back (dnsmasq, ISC, Kea) and must send the padded form.
 */
async function option43Findings(
  m: LoadedManifest,
  dhcpConfigs: readonly string[] | undefined,
): Promise<Finding[]> {
  const needy = m.manifest.nodes.filter(
    (n) => n.model !== undefined && piModel(n.model).boot.option43TrailingSpaces,
  );
  if (needy.length === 0) return [];
  const names = needy.map((n) => `${n.hostname} (${piModel(n.model ?? '').name})`).join(', ');
  if (m.manifest.dhcp.mode === 'proxy') {
    return [{ check: 'option 43', ok: true, detail: `brambled's proxyDHCP pads option 43 for ${names}` }];
  }
  const files = await dhcpConfigFiles(dhcpConfigs);
  const dhcp = await loadDhcp();
  const findings: Finding[] = [];
  for (const file of files) {
    const texts = dhcp.raspberryPiBootTexts(await readFile(file, 'utf8').catch(() => ''));
    if (texts.length === 0) continue;
    const padded = texts.some((t) => t.startsWith(PI_BOOT_MENU_TEXT_PADDED));
    findings.push({
      check: 'option 43',
      ok: padded,
      detail: padded
        ? `${file} sends "${PI_BOOT_MENU_TEXT_PADDED}" as ${names} need`
        : `${file} sends "${texts[0]}" but ${names} need "${PI_BOOT_MENU_TEXT_PADDED}" (Pi 3B ROM bug) — fix: regenerate it with bramble dhcp config`,
    });
  }
  if (findings.length === 0) {
    findings.push({
      check: 'option 43',
      ok: true,
      detail: `${names} need option 43 "${PI_BOOT_MENU_TEXT_PADDED}"; no DHCP config with "Raspberry Pi Boot" found to check (give --dhcp-config FILE)`,
    });
  }
  return findings;
}

async function staticChecks(m: LoadedManifest, dhcpConfigs?: readonly string[]): Promise<Finding[]> {
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
  f.push(...(await option43Findings(m, dhcpConfigs)));
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
  const doctor = program
    .command('doctor')
    .description('check the setup; with --simulate, boot a virtual Pi against the configured server')
    .option(
      '--simulate',
      'boot a virtual Pi (TFTP, and DHCP with --dhcp) and print its boot report; without a manifest it broadcasts DHCPDISCOVER and follows the offers',
    )
    .addOption(new Option('--model <model>', 'virtual Pi model').choices([...PI_MODELS]))
    .option('--serial <serial>', 'serial of the virtual Pi (default: a node of that model)')
    .option('--server <addr:port>', 'TFTP server to boot from (default: the manifest)')
    .option('--dhcp <addr>', 'also do the DHCP exchange with this server (needs port 67/68: root)')
    .option('--timeout <ms>', 'give up after this long', (v) => Number(v), 60_000)
    .option(
      '--dhcp-config <file...>',
      'DHCP server config(s) to check option 43 in (default: /etc/dnsmasq.conf, /etc/dnsmasq.d/*.conf, dhcpd.conf, kea-dhcp4.conf)',
    )
    .addHelpText(
      'after',
      `
Examples:
  bramble doctor
  bramble doctor --dhcp-config /etc/dnsmasq.d/bramble.conf
  bramble doctor --simulate --model pi4
  bramble doctor --simulate --model pi5 --serial 9ffefdef --server 127.0.0.1:6969 --json
  bramble doctor --simulate --interface eth0 --model pi3b   (no manifest needed: asks the LAN's DHCP servers)`,
    );
  addDiscoverOptions(doctor).action(
    async (
      o: {
        simulate?: boolean;
        model?: PiModelName;
        serial?: string;
        server?: string;
        dhcp?: string;
        timeout: number;
        dhcpConfig?: string[];
        interface?: string;
      },
      cmd: Command,
    ) => {
      const g = globals(cmd);
      if (wantsDiscover(o, g)) return runDiscover(o, g);
      const out = outputFor(g);
      const m = await manifestFor(g);
      if (!o.simulate) {
        const findings = await staticChecks(m, o.dhcpConfig);
        if (g.json) out.data(findings);
        else printFindings(out, findings);
        if (findings.some((x) => !x.ok)) process.exitCode = 1;
        return;
      }
      const node =
        m.manifest.nodes.find((n) =>
          o.serial ? n.serial === o.serial : o.model ? n.model === o.model : true,
        ) ?? m.manifest.nodes[0];
      const model = o.model ?? node?.model ?? 'pi4';
      const serial = o.serial ?? node?.serial;
      if (!serial) throw new UsageError('no --serial given and no node with a serial in the manifest');
      let host = m.manifest.tftp.listen.address === '0.0.0.0' ? '127.0.0.1' : m.manifest.tftp.listen.address;
      let port = m.manifest.tftp.listen.port;
      if (o.server) {
        const [h, p] = o.server.split(':');
        host = h || host;
        if (p) port = Number(p);
      }
      if (!o.dhcp || o.server) await requireTftpServer(host, port);
      const vp = await loadVirtualPi();
      const report = await vp.bootVirtualPi({
        // modelSpec() refuses, with the reason, the table's models it does not simulate (3A+, Zero 2 W).
        model: model as PiModel,
        serial,
        ...definedOnly({ mac: node?.mac }),
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
