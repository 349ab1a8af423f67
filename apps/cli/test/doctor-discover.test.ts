import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDnsmasqLan, type DnsmasqLan, isRoot, type LanHost } from '@bramble/testkit';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bin, tempDir } from './helpers.js';

interface SeenOfferJson {
  server: string;
  yiaddr: string;
  siaddr: string;
  accepted: boolean;
  reason?: string;
  option43Text?: string;
  vendorClass?: string;
  tftpServer?: string;
  used?: string[];
}
interface ReportJson {
  verdict: string;
  reason?: string;
  model: string;
  dhcp?: { interface?: string; offers: number; address?: string; seen?: SeenOfferJson[] };
  tftp?: { host: string; port: number };
  files: { path: string }[];
}

/** A Pi 4 boot partition in the TFTP root (no serial directory: the firmware falls back to the root). */
async function pi4Root(dir: string, nfsServer: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, size] of Object.entries({
    'start4.elf': 4000,
    'fixup4.dat': 500,
    'bcm2711-rpi-4-b.dtb': 900,
    'kernel8.img': 20_000,
  })) {
    await writeFile(join(dir, name), Buffer.alloc(size, name.length));
  }
  await writeFile(join(dir, 'config.txt'), 'arm_64bit=1\n');
  await writeFile(
    join(dir, 'cmdline.txt'),
    `console=tty1 root=/dev/nfs nfsroot=${nfsServer}:/srv/nfs/node,vers=3 rw ip=dhcp rootwait\n`,
  );
}

/**
 * `bramble doctor --simulate` as a Pi that knows no server, run inside the client namespace of a LAN
 * (testkit createDnsmasqLan) where real dnsmasq — configured as the official guide says — is the DHCP server.
 */
describe.runIf(isRoot())("bramble doctor --simulate discovers the LAN's DHCP servers", () => {
  let env: DnsmasqLan;
  let server: LanHost;
  let proxy: LanHost;
  let pi: LanHost;
  let tftpRoot: string;
  let cwd: string;

  const startDnsmasq = (host: LanHost, options: { proxy?: boolean; pxe?: string } = {}) =>
    env.startDnsmasq(host, { tftpRoot, ...options });

  /** `bramble ARGS` inside the Pi's namespace, from a directory without a manifest. */
  async function brambleInPi(args: readonly string[]) {
    const { BRAMBLE_CONFIG: _drop, ...childEnv } = process.env;
    const r = await execa('ip', ['netns', 'exec', pi.ns.name, 'node', bin, ...args], {
      cwd,
      env: childEnv,
      extendEnv: false,
      reject: false,
      timeout: 90_000,
      stdin: 'ignore',
    });
    return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  beforeAll(async () => {
    env = await createDnsmasqLan('dd');
    ({ server, proxy, pi } = env);
    cwd = await tempDir('discover');
    tftpRoot = join(cwd, 'tftp');
    await pi4Root(tftpRoot, server.address);
  });
  afterEach(async () => {
    await env.stopDnsmasq();
  });
  afterAll(async () => {
    await env?.destroy();
  });

  it("no manifest, no flags: broadcasts on the one interface, reports dnsmasq's offer, boots", async () => {
    await startDnsmasq(server);
    const r = await brambleInPi(['--json', 'doctor', '--simulate']);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ReportJson;
    expect(report.verdict, report.reason).toBe('would boot');
    expect(report.model).toBe('pi4');
    expect(report.dhcp?.interface).toBe(pi.ifName);
    expect(report.dhcp?.seen).toHaveLength(1);
    expect(report.dhcp?.seen?.[0]).toMatchObject({
      server: server.address,
      accepted: true,
      option43Text: 'Raspberry Pi Boot',
      vendorClass: 'PXEClient',
      tftpServer: server.address,
      used: ['boot', 'address'],
    });
    expect(report.dhcp?.address).toMatch(/^10\.251\.\d+\.1\d\d$/);
    expect(report.tftp).toEqual({ host: server.address, port: 69 });
    expect(report.files.map((f) => f.path)).toContain('kernel8.img');
    // The human report has the offers as a table.
    const text = await brambleInPi(['doctor', '--simulate']);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toContain('offers seen (1):');
    expect(text.stdout).toContain(`DHCP on ${pi.ifName}: xid`);
    expect(text.stdout).toMatch(/SERVER\s+YIADDR\s+SIADDR\s+VENDOR\s+OPTION 43\s+TFTP SERVER\s+ROM/);
    expect(text.stdout).toMatch(
      new RegExp(
        `${server.address.replaceAll('.', '\\.')}\\s+10\\.251\\.\\d+\\.1\\d\\d\\s+.*"Raspberry Pi Boot"`,
      ),
    );
  });

  it('pi3b: reports exactly why not (dnsmasq sends "Raspberry Pi Boot" without the trailing spaces)', async () => {
    await startDnsmasq(server);
    const r = await brambleInPi(['--json', 'doctor', '--simulate', '--model', 'pi3b']);
    expect(r.exitCode).toBe(1);
    const report = JSON.parse(r.stdout) as ReportJson;
    expect(report.reason).toBe(
      "option 43 has 'Raspberry Pi Boot' but not the trailing-spaces form the Pi 3B ROM needs",
    );
    expect(report.dhcp?.seen?.[0]).toMatchObject({ server: server.address, accepted: false });
  });

  it('two DHCP servers (dnsmasq for addresses + a proxyDHCP dnsmasq): both offers are listed', async () => {
    await startDnsmasq(server, { pxe: 'Some other menu' });
    await startDnsmasq(proxy, { proxy: true });
    const r = await brambleInPi(['--json', 'doctor', '--simulate', '--interface', pi.ifName]);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ReportJson;
    const servers = (report.dhcp?.seen ?? []).map((o) => o.server).sort();
    expect(servers).toEqual([proxy.address, server.address].sort());
    expect(report.tftp?.host).toBe(proxy.address);
  });

  it("regression: --server ADDR:69 --dhcp ADDR with a manifest gets dnsmasq's offer (none in 5 attempts before)", async () => {
    await startDnsmasq(server);
    const manifest = join(cwd, 'bramble.yaml');
    await writeFile(
      manifest,
      `version: 1\nserver: { address: ${server.address} }\nstateDir: ${join(cwd, 'state')}\n` +
        `tftp: { listen: '${server.address}:69' }\nimages: {}\nnodes: []\n`,
    );
    const args = ['-c', manifest, '--json', 'doctor', '--simulate', '--serial', '7a1b2c3d'];
    const r = await brambleInPi([...args, '--server', `${server.address}:69`, '--dhcp', server.address]);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ReportJson;
    expect(report.verdict, report.reason).toBe('would boot');
    expect(report.dhcp?.offers).toBeGreaterThan(0);
    expect(report.dhcp?.address).toMatch(/^10\.251\.\d+\.1\d\d$/);
  });

  it('an unknown --interface is a usage error naming the interfaces', async () => {
    const r = await brambleInPi(['doctor', '--simulate', '--interface', 'nope0']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("no network interface 'nope0'");
    expect(r.stderr).toContain(pi.ifName);
  });
});
