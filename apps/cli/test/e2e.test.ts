/**
 * Issue 8 end to end, on one Ethernet segment of network namespaces (testkit createLan):
 *   bramble host: brambled (proxyDHCP + TFTP) + nfs-ganesha + rpcbind serving the generated config
 *   dhcp host:    dnsmasq handing out addresses only
 *   pis host:     three virtual Pis (3B+, 4, 5) booting at once with real ports 67/68/69
 * Then: each root is read over NFS (libnfs nfs-cat) at the path and version its cmdline names, a reload
 * mid-boot loses no transfer, a malformed manifest is refused while serving goes on, and an unknown
 * Pi shows up in `bramble node ls --discovered`.
 */
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLan, isRoot, type Lan, type Peer, requireTool, startPeer, waitFor } from '@bramble/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, bramble, sampleImage, tempDir } from './helpers.js';

const daemonBin = join(import.meta.dirname, '..', '..', 'daemon', 'dist', 'main.js');
const stormRunner = join(import.meta.dirname, 'ns-storm.mjs');

interface Report {
  model: string;
  serial: string;
  verdict: string;
  reason?: string;
  nfsRoot?: { server: string; path: string; version: string };
}
interface Storm {
  booted: number;
  reports: Report[];
}

const NODES = [
  { hostname: 'rpi-e2e-01', model: 'pi3b+', serial: '3b0e2e01' },
  { hostname: 'rpi-e2e-02', model: 'pi4', serial: '400e2e02' },
  { hostname: 'rpi-e2e-03', model: 'pi5', serial: '500e2e03' },
];

describe.runIf(isRoot())('end to end: dnsmasq + brambled proxyDHCP/TFTP + ganesha, three Pis', () => {
  let lan: Lan;
  let dir: string;
  let cfg: string;
  const peers: Peer[] = [];
  let daemon: Peer;

  const storm = async (o: Record<string, unknown>): Promise<Storm> => {
    const pis = lan.hosts.pis;
    if (!pis) throw new Error('no pis host');
    const out = await pis.ns.exec('node', [stormRunner, JSON.stringify(o)], { timeoutMs: 90_000 });
    return JSON.parse(out) as Storm;
  };
  const metrics = async () =>
    (await lan.hosts.bramble?.ns.exec('curl', ['-sf', 'http://127.0.0.1:9469/metrics'])) ?? '';

  beforeAll(async () => {
    for (const t of ['dnsmasq', 'ganesha.nfsd', 'rpcbind', 'nfs-cat', 'unshare', 'curl', 'ip'])
      requireTool(t);
    lan = await createLan('e2e', ['bramble', 'dhcp', 'pis']);
    const server = lan.hosts.bramble?.address ?? '';
    const subnet = lan.subnet.split('.').slice(0, 3).join('.');
    dir = await tempDir('e2e');
    cfg = join(dir, 'bramble.yaml');
    await copyFile(sampleImage, join(dir, 'sample.img.xz'));

    // The manifest through the CLI: init, image add, node add x3 (extract once, provision each).
    const run = async (args: string[]) => {
      const r = await bramble(['-c', cfg, ...args], { cwd: dir });
      if (r.exitCode !== 0) throw new Error(`bramble ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await run(['init', '--server', server, '--state', './state', '--dhcp', 'proxy', '--nfs', 'ganesha']);
    await run(['-q', 'image', 'add', 'sample', './sample.img.xz']);
    for (const n of NODES)
      await run([
        '-q',
        'node',
        'add',
        n.hostname,
        '--serial',
        n.serial,
        '--model',
        n.model,
        '--image',
        'sample',
      ]);

    // nfs-ganesha + rpcbind in the bramble namespace (private /run so rpcbind never meets the host's).
    const conf = join(dir, 'ganesha.conf');
    await mkdir(join(dir, 'recovery'), { recursive: true });
    await writeFile(
      conf,
      await run([
        'nfs',
        'config',
        '--format',
        'ganesha',
        '--graceless',
        '--recovery-root',
        join(dir, 'recovery'),
      ]),
    );
    const bns = lan.hosts.bramble?.ns;
    const dns = lan.hosts.dhcp;
    if (!bns || !dns) throw new Error('lan hosts missing');
    const script = [
      'set -e',
      'mount -t tmpfs bramble-run /run',
      'mkdir -p /run/rpcbind',
      'rpcbind -f -w &',
      'i=0; while [ ! -S /run/rpcbind.sock ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done',
      `exec ganesha.nfsd -F -f ${conf} -L ${join(dir, 'ganesha.log')} -p ${join(dir, 'ganesha.pid')} -N NIV_EVENT`,
    ].join('\n');
    peers.push(startPeer([...bns.prefix, 'unshare', '-m', 'sh', '-c', script]));

    // dnsmasq: addresses only (no PXE, no TFTP): the boot options come from brambled's proxy.
    const dnsmasq = startPeer([
      ...dns.ns.prefix,
      requireTool('dnsmasq'),
      '-d',
      '--conf-file=/dev/null',
      '--port=0',
      `--interface=${dns.ifName}`,
      '--bind-interfaces',
      '--user=root',
      '--group=root',
      '--pid-file=',
      `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
      `--dhcp-range=${subnet}.100,${subnet}.150,255.255.255.0`,
      '--dhcp-broadcast',
      '--no-ping',
      '--log-dhcp',
    ]);
    peers.push(dnsmasq);
    await waitFor(
      () => dnsmasq.output().includes('DHCP, IP range') || dnsmasq.proc.exitCode !== null,
      10_000,
    );

    daemon = startPeer([...bns.prefix, 'node', daemonBin, '-c', cfg, '--log-format', 'json', '--no-watch']);
    peers.push(daemon);
    await waitFor(
      () => daemon.output().includes('"service":"http"') || daemon.proc.exitCode !== null,
      20_000,
    );
    if (daemon.proc.exitCode !== null) throw new Error(`brambled exited: ${daemon.output()}`);
  });

  afterAll(async () => {
    for (const p of peers.reverse()) await p.stop();
    await lan?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('three Pis boot at once through a mid-boot reload; each root is readable over the NFS its cmdline names', async () => {
    const booting = storm({
      count: 3,
      models: NODES.map((n) => n.model),
      serials: NODES.map((n) => n.serial),
      dhcp: { server: '255.255.255.255', attempts: 3, retryIntervalMs: 3000 },
      timeoutMs: 60_000,
    });
    // Reload while files are being served.
    await waitFor(async () => /"event":"file"/.test(daemon.output()), 30_000, 20);
    await writeFile(cfg, `${await readFile(cfg, 'utf8')}\n# touched by the e2e test\n`);
    daemon.proc.kill('SIGHUP');
    const result = await booting;
    for (const r of result.reports) expect(r.verdict, `${r.model}: ${r.reason ?? ''}`).toBe('would boot');
    const log = daemon.output();
    const reloadAt = log.indexOf('"event":"reload"');
    expect(reloadAt).toBeGreaterThan(0);
    expect(log.lastIndexOf('"event":"file"')).toBeGreaterThan(reloadAt); // transfers went on after it
    expect(log).not.toContain('SHUTDOWN');
    const m = await metrics();
    expect(m).toMatch(/^bramble_dhcp_offers_total [1-9]\d*$/m);
    expect(m).toMatch(/^bramble_manifest_reloads_total\{result="ok"\} 1$/m);
    for (const n of NODES)
      expect(m).toMatch(
        new RegExp(`^bramble_node_last_boot_timestamp_seconds\\{node="${n.hostname}"\\} \\d+$`, 'm'),
      );

    // NFS: the root each cmdline names, over the version it names, holds the node's hostname.
    const pis = lan.hosts.pis;
    for (const r of result.reports) {
      const node = NODES.find((n) => n.serial === r.serial);
      expect(r.nfsRoot).toBeDefined();
      if (!r.nfsRoot || !node || !pis) continue;
      expect(r.nfsRoot.server).toBe(lan.hosts.bramble?.address);
      let got = '';
      await waitFor(
        async () => {
          got = await pis.ns
            .exec(
              'nfs-cat',
              [`nfs://${r.nfsRoot?.server}${r.nfsRoot?.path}/etc/hostname?version=${r.nfsRoot?.version}`],
              { timeoutMs: 15_000 },
            )
            .catch(() => '');
          return got !== '';
        },
        30_000,
        500,
      );
      expect(got.trim()).toBe(node.hostname);
    }
  });

  it('refuses a malformed manifest while serving goes on, and lists an unknown Pi as discovered', async () => {
    const good = await readFile(cfg, 'utf8');
    const bad = good
      .replace(`serial: ${NODES[0]?.serial}`, 'serial: nothex')
      .replace('address: 10.', 'address: 300.');
    expect(bad).not.toBe(good);
    await writeFile(cfg, bad);
    daemon.proc.kill('SIGHUP');
    await waitFor(() => daemon.output().includes('"event":"reload-rejected"'), 10_000);
    expect(daemon.output()).toContain("nodes[0].serial: serial 'nothex' is not 8 hex digits");

    // Serving goes on with the old manifest: a known Pi 4 boots; an unknown Pi 4 does not, and is recorded.
    const result = await storm({
      count: 2,
      models: ['pi4'],
      serials: [NODES[1]?.serial, 'deadbeef'],
      dhcp: { server: '255.255.255.255', attempts: 3, retryIntervalMs: 3000 },
      timeoutMs: 60_000,
    });
    const [known, unknown] = result.reports;
    expect(known?.verdict, known?.reason).toBe('would boot');
    expect(unknown?.verdict).toBe('would not boot');
    await writeFile(cfg, good);

    await waitFor(
      async () =>
        (await readFile(join(dir, 'state', 'discovered.json'), 'utf8').catch(() => '')).includes('deadbeef'),
      10_000,
    );
    const ls = await bramble(['-c', cfg, 'node', 'ls', '--discovered', '--json'], { cwd: dir });
    expect(ls.exitCode, ls.stderr).toBe(0);
    const discovered = JSON.parse(ls.stdout) as { id: string; model: string; address: string }[];
    expect(discovered).toEqual([expect.objectContaining({ id: 'deadbeef', model: 'pi4' })]);
    expect(daemon.output().match(/"event":"discovered"/g)).toHaveLength(1);
    expect(bin).toBeTruthy();
  });
});
