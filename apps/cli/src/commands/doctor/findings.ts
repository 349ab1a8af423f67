import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedManifest } from '@bramble/manifest';
import { PI_BOOT_MENU_TEXT_PADDED, piModel, tftpDirName } from '@bramble/pi';
import { canBindPort } from 'brambled';
import type { Output } from '../../output.js';
import { loadDhcp } from '../../packages.js';
import { checkRows } from '../node/check.js';

/** Where DHCP server configs usually live (dnsmasq, ISC dhcpd, Kea), checked when --dhcp-config is not given. */
const DHCP_CONFIG_PLACES = [
  '/etc/dnsmasq.conf',
  '/etc/dnsmasq.d',
  '/etc/dhcp/dhcpd.conf',
  '/etc/kea/kea-dhcp4.conf',
];

export interface Finding {
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
      files.push(...entries.filter((entry) => entry.endsWith('.conf')).map((entry) => join(place, entry)));
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
  manifest: LoadedManifest,
  dhcpConfigs: readonly string[] | undefined,
): Promise<Finding[]> {
  const needy = manifest.manifest.nodes.filter(
    (entry) => entry.model !== undefined && piModel(entry.model).boot.option43TrailingSpaces,
  );
  if (needy.length === 0) return [];
  const names = needy.map((entry) => `${entry.hostname} (${piModel(entry.model ?? '').name})`).join(', ');
  if (manifest.manifest.dhcp.mode === 'proxy') {
    return [{ check: 'option 43', ok: true, detail: `brambled's proxyDHCP pads option 43 for ${names}` }];
  }
  const files = await dhcpConfigFiles(dhcpConfigs);
  const dhcp = await loadDhcp();
  const findings: Finding[] = [];
  for (const file of files) {
    const texts = dhcp.raspberryPiBootTexts(await readFile(file, 'utf8').catch(() => ''));
    if (texts.length === 0) continue;
    const padded = texts.some((text) => text.startsWith(PI_BOOT_MENU_TEXT_PADDED));
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

export async function staticChecks(
  manifest: LoadedManifest,
  dhcpConfigs?: readonly string[],
): Promise<Finding[]> {
  const findings: Finding[] = [];
  findings.push({
    check: 'manifest',
    ok: true,
    detail: `${manifest.path}: ${manifest.manifest.nodes.length} node(s)`,
  });
  findings.push({ check: 'state dir', ok: existsSync(manifest.stateDir), detail: manifest.stateDir });
  findings.push({
    check: 'bootcode.bin',
    ok: existsSync(join(manifest.tftpRoot, 'bootcode.bin')),
    detail: `${join(manifest.tftpRoot, 'bootcode.bin')} (Pi 3 ROMs fetch it from the TFTP root)`,
  });
  const port = manifest.manifest.tftp.listen.port;
  findings.push({
    check: 'tftp port',
    ok: canBindPort(port) || !!process.env.LISTEN_FDS,
    detail: canBindPort(port)
      ? `UDP ${port} can be bound`
      : `UDP ${port} needs root, CAP_NET_BIND_SERVICE or socket activation`,
  });
  for (const entry of manifest.manifest.nodes) {
    const dir = join(manifest.tftpRoot, tftpDirName(entry));
    findings.push({ check: `${entry.hostname} tftp`, ok: existsSync(dir), detail: dir });
    findings.push({
      check: `${entry.hostname} nfs root`,
      ok: existsSync(join(manifest.nfsRoot, entry.hostname)),
      detail: join(manifest.nfsRoot, entry.hostname),
    });
  }
  try {
    for (const problem of await checkRows(manifest))
      findings.push({
        check: problem.node,
        ok: problem.severity !== 'error',
        detail: `${problem.message} — fix: ${problem.fix}`,
      });
  } catch (e) {
    findings.push({ check: 'node check', ok: false, detail: (e as Error).message });
  }
  findings.push(...(await option43Findings(manifest, dhcpConfigs)));
  return findings;
}

export function printFindings(out: Output, findings: Finding[]): void {
  out.table(findings, [
    { key: 'ok', header: '', format: (value) => (value ? out.green('ok') : out.red('FAIL')) },
    { key: 'check', header: 'CHECK' },
    { key: 'detail', header: 'DETAIL' },
  ]);
}
