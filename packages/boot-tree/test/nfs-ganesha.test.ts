import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createNetNs,
  isRoot,
  type NetNs,
  type Peer,
  requireTool,
  startPeer,
  waitFor,
} from '@bramble/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ganeshaConfig, type NodeLayout, provisionNode } from '../src/index.js';
import { makeImage } from './helpers/synthetic-image.js';

/**
 * Real NFS: nfs-ganesha (FSAL VFS) + rpcbind serve the generated config inside a network namespace of
 * their own (and a private mount namespace with a tmpfs /run, so rpcbind's socket never clashes with the
 * host's); libnfs' nfs-cat reads each node's files over NFSv3 and NFSv4 from 127.0.0.1 in that namespace.
 */
describe.runIf(isRoot())('generated ganesha config served by real nfs-ganesha', () => {
  let work: string;
  let ns: NetNs | undefined;
  let peer: Peer | undefined;
  const layouts: NodeLayout[] = [];

  const nfsCat = (path: string, version: 3 | 4) =>
    ns!.exec('nfs-cat', [`nfs://127.0.0.1${path}?version=${version}`], { timeoutMs: 20_000 });

  beforeAll(async () => {
    for (const t of ['ganesha.nfsd', 'rpcbind', 'nfs-cat', 'unshare', 'ip', 'mount']) requireTool(t);
    work = await mkdtemp(join(tmpdir(), 'bt-nfs-'));
    const bookworm = { name: 'bookworm-lite', ...(await makeImage(join(work, 'img-bw'), 'bookworm')) };
    const stretch = { name: 'stretch-lite', ...(await makeImage(join(work, 'img-st'), 'stretch')) };
    const common = {
      tftpRoot: join(work, 'tftp'),
      nfsRoot: join(work, 'nfs'),
      nfsServer: '127.0.0.1',
      hostKeyTypes: [],
    };
    layouts.push(
      await provisionNode({
        ...common,
        node: { hostname: 'alpha', serial: 'd9780558', image: 'bookworm-lite', address: '127.0.0.1' },
        image: bookworm,
      }),
      await provisionNode({
        ...common,
        node: { hostname: 'beta', mac: 'b8:27:eb:12:34:56', image: 'stretch-lite', address: '127.0.0.1' },
        image: stretch,
      }),
      // A node on another address: its exports must not be readable from 127.0.0.1.
      await provisionNode({
        ...common,
        node: { hostname: 'gamma', serial: '0badcafe', image: 'bookworm-lite', address: '10.99.0.3' },
        image: bookworm,
      }),
    );
    const conf = join(work, 'ganesha.conf');
    await writeFile(conf, ganeshaConfig(layouts, { graceless: true, recoveryRoot: join(work, 'recovery') }));
    ns = await createNetNs('nfs');
    const script = [
      'set -e',
      'mount -t tmpfs bramble-run /run',
      'mkdir -p /run/rpcbind',
      'rpcbind -f -w &',
      'i=0; while [ ! -S /run/rpcbind.sock ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done',
      `exec ganesha.nfsd -F -f ${conf} -L ${join(work, 'ganesha.log')} -p ${join(work, 'ganesha.pid')} -N NIV_EVENT`,
    ].join('\n');
    peer = startPeer([...ns.prefix, 'unshare', '-m', 'sh', '-c', script]);
    // Ready when the first node's hostname is readable over NFSv3 (needs rpcbind + mountd + nfsd).
    await waitFor(
      async () => {
        if (peer!.proc.exitCode !== null) {
          const log = await readFile(join(work, 'ganesha.log'), 'utf8').catch(() => '');
          throw new Error(`ganesha exited (${peer!.proc.exitCode}): ${peer!.output()}\n${log.slice(-3000)}`);
        }
        return nfsCat(`${layouts[0]!.rootPath}/etc/hostname`, 3).then(
          () => true,
          () => false,
        );
      },
      40_000,
      250,
    );
  }, 120_000);

  afterAll(async () => {
    await peer?.stop();
    await ns?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const version of [3, 4] as const) {
    it(`NFSv${version}: each node's /etc/hostname matches its spec`, async () => {
      for (const l of layouts.slice(0, 2)) {
        expect(await nfsCat(`${l.rootPath}/etc/hostname`, version)).toBe(l.node.hostname);
      }
    });

    it(`NFSv${version}: each node's boot directory serves its own cmdline.txt and the shared boot files`, async () => {
      for (const l of layouts.slice(0, 2)) {
        expect(`${await nfsCat(`${l.bootPath}/cmdline.txt`, version)}\n`).toBe(l.cmdline);
        const issue = await readFile(join(l.tftpRoot, '.images', l.image, 'issue.txt'), 'utf8');
        expect(`${await nfsCat(`${l.bootPath}/issue.txt`, version)}\n`).toBe(issue);
      }
      expect(layouts[0]!.cmdline).toContain(`nfsroot=127.0.0.1:${layouts[0]!.rootPath},vers=3 `);
      expect(layouts[1]!.cmdline).toContain(`nfsroot=127.0.0.1:${layouts[1]!.rootPath},vers=4.1 `);
    });

    it(`NFSv${version}: directories not exported, or exported to another node's address, cannot be read`, async () => {
      await expect(nfsCat(join(work, 'img-bw/root/etc/hostname'), version)).rejects.toThrow();
      // exported, but only to gamma's address
      await expect(nfsCat(`${layouts[2]!.rootPath}/etc/hostname`, version)).rejects.toThrow();
      await expect(nfsCat(`${layouts[2]!.bootPath}/cmdline.txt`, version)).rejects.toThrow();
    });
  }
});
