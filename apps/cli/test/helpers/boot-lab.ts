/**
 * The real-boot lab shared by real-boot.test.ts and shared-real-boot.test.ts: the cached test OS image
 * (scripts/build-test-os-image.sh), a tap LAN in a namespace of its own, a manifest with the nodes added
 * by `bramble node add`, and the peers
 *   dnsmasq      addresses only (fixed per MAC); its next-server is this host, where brambled serves TFTP
 *   brambled     proxyDHCP + TFTP from the generated manifest (U-Boot fetches boot.scr.uimg, then the
 *                node's kernel8.img, initramfs8 and cmdline.txt from the node's directory)
 *   ganesha      + rpcbind serving `bramble nfs config --format ganesha`
 * plus ssh to the nodes with the configured user and key, pinned to the host keys Bramble generated.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createTapLan,
  isRoot,
  type Peer,
  type QemuVm,
  requireTool,
  startPeer,
  startQemuVm,
  type TapLan,
  UBOOT_QEMU_ARM64,
  waitFor,
} from '@bramble/testkit';
import { execa } from 'execa';
import { bramble, tempDir } from '../helpers.js';

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
const buildScript = join(repoRoot, 'scripts', 'build-test-os-image.sh');
const daemonBin = join(repoRoot, 'apps', 'daemon', 'dist', 'main.js');
/** Generous but bounded: TCG emulation of two machines on a loaded 2-core host. */
export const BOOT_TIMEOUT_MS = 10 * 60_000;
export const IMAGE_BUILD_TIMEOUT_MS = 60 * 60_000;

/**
 * Root only (namespaces, debootstrap, chroot). As root a missing peer fails the test: CI installs them all.
 * BRAMBLE_SKIP_REAL_BOOT=1 skips it on a developer machine (never set in CI).
 */
export const canBoot = isRoot() && (process.env.CI === 'true' || process.env.BRAMBLE_SKIP_REAL_BOOT !== '1');

export interface LabNode {
  hostname: string;
  mac: string;
  /** Last octet of the node's fixed address on the LAN. */
  host: number;
}

export interface Booted {
  hostname: string;
  address: string;
  vm: QemuVm;
  startedAt: number;
  loginAfterMs?: number;
}

export interface BootLabOptions {
  /** Namespace/tap name tag (testkit makes it unique). */
  tag: string;
  nodes: readonly LabNode[];
  user: string;
  /** Extra `bramble node add` arguments for every node (e.g. --root shared, --scratch 1G). */
  nodeArgs?: readonly string[];
}

export interface BootLab {
  lan: TapLan;
  dir: string;
  cfg: string;
  /** The cached test OS image. */
  image: string;
  daemon: Peer;
  /** `bramble -c <cfg> ARGS` in the lab directory; throws on a non-zero exit. */
  run(args: readonly string[]): Promise<string>;
  /** Host path of a file of the node's identity: its root (copy mode) or its layer's identity/ (shared). */
  nodeFile(hostname: string, path: string): string;
  ssh(node: Pick<Booted, 'hostname' | 'address'>, command: string): Promise<string>;
  /** Wait (bounded) until ssh with the configured user works. */
  waitForSsh(node: Pick<Booted, 'hostname' | 'address'>, timeoutMs: number): Promise<void>;
  /** Stop ganesha + rpcbind and start them on a freshly generated `bramble nfs config`. */
  restartNfs(): Promise<void>;
  /** Power on a node's VM (U-Boot, then netboot). */
  startVm(node: LabNode, logName?: string): Booted;
  stop(booted: readonly Booted[]): Promise<void>;
}

export async function startBootLab(o: BootLabOptions): Promise<BootLab> {
  for (const t of [
    'qemu-system-aarch64',
    'dnsmasq',
    'ganesha.nfsd',
    'rpcbind',
    'unshare',
    'ssh',
    'ssh-keygen',
    'ssh-keyscan',
    'debootstrap',
    'qemu-aarch64-static',
    'mkfs.vfat',
    'mcopy',
    'sfdisk',
    'mkfs.ext4',
  ])
    requireTool(t);
  if (!existsSync(UBOOT_QEMU_ARM64))
    throw new Error(`${UBOOT_QEMU_ARM64} missing: run scripts/install-peers.sh (u-boot-qemu)`);
  // The image: built once (debootstrap + qemu-user second stage), then reused from its cache.
  const built = await execa('bash', [buildScript], { timeout: IMAGE_BUILD_TIMEOUT_MS, reject: false });
  if (built.exitCode !== 0) throw new Error(`build-test-os-image failed:\n${built.stderr}`);
  const image = String(built.stdout).trim().split('\n').pop() ?? '';

  const lan = await createTapLan(o.tag, o.nodes.length);
  const peers: Peer[] = [];
  const server = lan.address;
  const dir = await tempDir(o.tag);
  const cfg = join(dir, 'bramble.yaml');
  const shared = (o.nodeArgs ?? []).some((a, i, all) => a === '--root' && all[i + 1]?.startsWith('shared'));
  const nodeFile = (hostname: string, path: string) =>
    join(dir, 'state', 'nfs', hostname, ...(shared ? ['identity'] : []), path);
  const run = async (args: readonly string[]) => {
    const r = await bramble(['-c', cfg, ...args], { cwd: dir, timeout: 20 * 60_000 });
    if (r.exitCode !== 0) throw new Error(`bramble ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const ssh = async (node: Pick<Booted, 'hostname' | 'address'>, command: string): Promise<string> => {
    const r = await execa(
      'ip',
      [
        'netns',
        'exec',
        lan.ns.name,
        'ssh',
        '-i',
        join(dir, 'id_ed25519'),
        '-o',
        `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'HostKeyAlgorithms=ssh-ed25519',
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=20',
        `${o.user}@${node.address}`,
        command,
      ],
      { timeout: 180_000, reject: false },
    );
    if (r.exitCode !== 0)
      throw new Error(`ssh ${node.hostname} '${command}' → ${r.exitCode}: ${r.stdout}\n${r.stderr}`);
    return String(r.stdout).trim();
  };
  // nfs-ganesha + rpcbind (private /run so rpcbind never meets the host's), on the config Bramble
  // generates now; sh stays their parent so stopping it stops both.
  let nfs: Peer | undefined;
  const startNfs = async () => {
    const conf = join(dir, 'ganesha.conf');
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
    const script = [
      'set -e',
      'mount -t tmpfs bramble-run /run',
      'mkdir -p /run/rpcbind',
      'rpcbind -f -w & rpcbind=$!',
      'i=0; while [ ! -S /run/rpcbind.sock ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done',
      `ganesha.nfsd -F -f ${conf} -L ${join(dir, 'ganesha.log')} -p ${join(dir, 'ganesha.pid')} -N NIV_EVENT & ganesha=$!`,
      "trap 'kill $ganesha $rpcbind 2>/dev/null; wait; exit 0' TERM INT",
      'wait $ganesha',
    ].join('\n');
    nfs = startPeer([...lan.ns.prefix, 'unshare', '-m', 'sh', '-c', script]);
  };
  const stop = async (booted: readonly Booted[]) => {
    for (const b of booted) await b.vm.stop();
    await nfs?.stop();
    for (const p of peers.reverse()) await p.stop();
    await lan.destroy();
    if (!process.env.BRAMBLE_KEEP_REAL_BOOT) await rm(dir, { recursive: true, force: true });
  };

  try {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', o.tag, '-f', join(dir, 'id_ed25519')]);
    await run(['init', '--server', server, '--state', './state', '--dhcp', 'proxy', '--nfs', 'ganesha']);
    for (const n of o.nodes)
      await run([
        '-q',
        'node',
        'add',
        n.hostname,
        '--mac',
        n.mac,
        '--address',
        `${lan.prefix}.${n.host}`,
        '--image',
        image,
        '--user',
        o.user,
        '--ssh-key',
        join(dir, 'id_ed25519.pub'),
        '--nfs-server',
        server,
        ...(o.nodeArgs ?? []),
      ]);
    // ssh trusts exactly the host keys Bramble generated for each node.
    const knownHosts: string[] = [];
    for (const n of o.nodes) {
      const pub = await readFile(nodeFile(n.hostname, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8');
      const [type, key] = pub.trim().split(/\s+/);
      knownHosts.push(`${lan.prefix}.${n.host} ${type} ${key}`);
    }
    await writeFile(join(dir, 'known_hosts'), `${knownHosts.join('\n')}\n`);

    await startNfs();

    // dnsmasq: addresses only (no TFTP, no boot options), one fixed address per node MAC.
    const dnsmasq = startPeer([
      ...lan.ns.prefix,
      requireTool('dnsmasq'),
      '-d',
      '--conf-file=/dev/null',
      '--port=0',
      `--interface=${lan.bridge}`,
      '--bind-interfaces',
      '--user=root',
      '--group=root',
      '--pid-file=',
      `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
      `--dhcp-range=${lan.prefix}.100,${lan.prefix}.150,255.255.255.0,1h`,
      ...o.nodes.map((n) => `--dhcp-host=${n.mac},${lan.prefix}.${n.host}`),
      '--no-ping',
      '--log-dhcp',
    ]);
    peers.push(dnsmasq);
    await waitFor(
      () => dnsmasq.output().includes('DHCP, IP range') || dnsmasq.proc.exitCode !== null,
      10_000,
    );
    if (dnsmasq.proc.exitCode !== null) throw new Error(`dnsmasq exited: ${dnsmasq.output()}`);

    // TFTP on the server address: '0.0.0.0' binds only the addresses of interfaces that are up and
    // running when brambled starts (libuv), and the bridge has no carrier until QEMU opens a tap.
    const daemon = startPeer([
      ...lan.ns.prefix,
      'node',
      daemonBin,
      '-c',
      cfg,
      '--tftp-listen',
      `${server}:69`,
      '--log-format',
      'json',
      '--no-watch',
    ]);
    peers.push(daemon);
    await waitFor(
      () => daemon.output().includes('"service":"http"') || daemon.proc.exitCode !== null,
      30_000,
    );
    if (daemon.proc.exitCode !== null) throw new Error(`brambled exited: ${daemon.output()}`);

    return {
      lan,
      dir,
      cfg,
      image,
      daemon,
      run,
      nodeFile,
      ssh,
      waitForSsh: async (node, timeoutMs) => {
        let who = '';
        await waitFor(
          async () => {
            who = await ssh(node, 'id -un').catch(() => '');
            return who !== '';
          },
          timeoutMs,
          5_000,
        ).catch(() => undefined);
        if (!who) await ssh(node, 'id -un'); // the error says why
      },
      startVm: (n, logName = n.hostname) => ({
        hostname: n.hostname,
        address: `${lan.prefix}.${n.host}`,
        vm: startQemuVm({
          ns: lan.ns,
          tap: lan.taps[o.nodes.indexOf(n)] as string,
          mac: n.mac,
          logFile: join(dir, `${logName}.console.log`),
        }),
        startedAt: Date.now(),
      }),
      restartNfs: async () => {
        await nfs?.stop();
        await startNfs();
      },
      stop,
    };
  } catch (e) {
    await stop([]).catch(() => undefined);
    throw e;
  }
}
