import { existsSync, lstatSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { type LoadedManifest, Mac, type ManifestNode, readDiscovered, Serial } from '@bramble/manifest';
import { modelFromDetected, piModelList, SERIAL_RULE, tftpDirName } from '@bramble/pi';
import type { Command } from 'commander';
import { type Document, isMap, isSeq, YAMLMap, YAMLSeq } from 'yaml';
import { confirm } from '../confirm.js';
import { editManifest, type GlobalOptions, globals, manifestFor, NODE_FLAGS, outputFor } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import type { Output } from '../output.js';
import { type CheckProblem, loadBootTree, type ScratchSpec } from '../packages.js';
import { layoutFile, provision, readLayouts } from '../store.js';
import { dhcpConfigText } from './dhcp.js';
import { imageNameFromFile } from './image.js';

const defaultStateDir = () =>
  typeof process.getuid === 'function' && process.getuid() === 0 ? '/var/lib/bramble' : './bramble-state';

interface AddOptions {
  serial?: string;
  mac?: string;
  image: string;
  model?: string;
  address?: string;
  user?: string;
  passwordHash?: string;
  sshKey?: string[];
  nfsServer?: string;
  nfsVersion?: string;
  scratch?: string;
  root?: string;
  state?: string;
}

/** Every problem of the given nodes (all when empty), unprovisioned nodes included. */
export async function checkRows(
  m: LoadedManifest,
  hostnames: readonly string[] = [],
): Promise<CheckProblem[]> {
  const bt = await loadBootTree();
  const { layouts, missing } = await readLayouts(m, hostnames);
  // A shared-root node's fstab/hostname live in its layer's identity; its nfsroot is the image's base.
  const targets = layouts.map((l) => (l.basePath ? { ...l, rootPath: bt.identityRoot(l.rootPath) } : l));
  const rows = await bt.checkNodes(targets, {
    exportedPaths: layouts.flatMap((l) => [l.rootPath, l.bootPath, ...(l.basePath ? [l.basePath] : [])]),
  });
  for (const h of missing)
    rows.push({
      node: h,
      severity: 'error',
      code: 'NOT_PROVISIONED',
      message: 'no TFTP/NFS trees have been laid out for this node',
      fix: `bramble node provision ${h}`,
    });
  return rows;
}

function nodesSeq(doc: Document): YAMLSeq {
  const n = doc.get('nodes');
  if (isSeq(n)) return n;
  const seq = new YAMLSeq();
  doc.set('nodes', seq);
  return seq;
}

/** Add (or adopt) a node: validate the manifest with it, provision its trees, then save the manifest. */
async function addNode(g: GlobalOptions, out: Output, hostname: string, o: AddOptions): Promise<void> {
  if (!o.serial && !o.mac) throw new UsageError('a node needs --serial or --mac');
  if (o.sshKey?.length && !o.user)
    throw new UsageError(
      "--ssh-key needs --user NAME: the keys are written to that user's ~/.ssh/authorized_keys in the node root",
    );
  const sshKeys: string[] = [];
  for (const f of o.sshKey ?? []) {
    const text = existsSync(f) ? await readFile(f, 'utf8') : f;
    sshKeys.push(
      ...text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#')),
    );
  }
  let scratch: ScratchSpec | undefined;
  if (o.scratch !== undefined) {
    const bt = await loadBootTree();
    try {
      scratch = bt.parseScratchFlag(o.scratch);
    } catch (e) {
      throw new UsageError(`--scratch: ${(e as Error).message}`);
    }
  }
  const creating = !existsSync(g.config);
  if (creating && !o.nfsServer)
    throw new UsageError(
      `no manifest at ${g.config}: pass --nfs-server ADDR to create one (or run bramble init)`,
    );
  let imageName = o.image;
  const m = await editManifest(
    g.config,
    (doc) => {
      if (creating) {
        doc.contents = doc.createNode({
          version: 1,
          server: { address: o.nfsServer },
          stateDir: o.state ?? defaultStateDir(),
          images: {},
          nodes: [],
        }) as never;
      } else if (o.nfsServer) doc.setIn(['server', 'address'], o.nfsServer);
      const images = doc.get('images');
      const named = isMap(images) && images.has(o.image);
      if (!named && existsSync(o.image)) {
        const existing = isMap(images)
          ? images.items.find(
              (p) =>
                resolve(g.config, '..', String((p.value as { value?: unknown })?.value ?? p.value)) ===
                resolve(o.image),
            )
          : undefined;
        imageName = existing
          ? String((existing.key as { value?: unknown })?.value ?? existing.key)
          : imageNameFromFile(o.image);
        if (!existing) {
          if (!isMap(images)) doc.set('images', new YAMLMap());
          const rel = relative(resolve(g.config, '..'), resolve(o.image));
          doc.setIn(['images', imageName], rel.startsWith('..') ? resolve(o.image) : `./${rel}`);
        }
      }
      const node: Record<string, unknown> = { hostname };
      // Store the normalised forms (7a1b2c3d, dc:a6:32:01:36:c2); invalid input is reported by path below.
      if (o.serial) node.serial = Serial.safeParse(o.serial).data ?? o.serial;
      if (o.mac) node.mac = Mac.safeParse(o.mac).data ?? o.mac;
      if (o.model) node.model = o.model;
      node.image = imageName;
      if (o.address) node.address = o.address;
      if (o.user) node.user = { name: o.user, ...(o.passwordHash ? { passwordHash: o.passwordHash } : {}) };
      if (sshKeys.length > 0) node.sshKeys = sshKeys;
      if (o.nfsVersion) node.nfsVersion = o.nfsVersion;
      if (scratch) node.scratch = scratch;
      if (o.root && o.root !== 'copy') node.root = o.root;
      nodesSeq(doc).add(doc.createNode(node));
    },
    async (loaded) => {
      const n = loaded.manifest.nodes.find((x) => x.hostname === hostname);
      if (!n) throw new CliError('INTERNAL', 'node vanished from the manifest');
      await allOrNothing(
        [
          loaded.stateDir,
          loaded.tftpRoot,
          loaded.nfsRoot,
          join(loaded.imagesDir, n.image),
          join(loaded.tftpRoot, tftpDirName(n)),
          join(loaded.nfsRoot, n.hostname),
          layoutFile(loaded, n.hostname),
        ],
        () => provision(loaded, n, out),
      );
    },
    { node: hostname, flags: NODE_FLAGS },
  );
  const n = m.manifest.nodes.find((x) => x.hostname === hostname) as ManifestNode;
  const rootWhat = n.root && n.root !== 'copy' ? `layer (${n.root} root)` : 'root';
  out.print(
    `${out.green('✓')} ${hostname}: TFTP ${join(m.tftpRoot, tftpDirName(n))}/, NFS ${rootWhat} ${join(m.nfsRoot, hostname)}`,
  );
  if (!g.quiet && !g.json) await printDhcpHint(m, out);
}

/**
 * Run `work`; when it fails, remove those of `paths` that did not exist before it (deepest first), so a
 * failed `node add` leaves neither node trees nor state the manifest does not know about. What existed
 * before is never removed.
 */
async function allOrNothing<T>(paths: readonly string[], work: () => Promise<T>): Promise<T> {
  const present = (p: string) => {
    try {
      lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  const created = paths.filter((p) => !present(p));
  try {
    return await work();
  } catch (e) {
    for (const p of [...created].sort((a, b) => b.length - a.length))
      await rm(p, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

async function printDhcpHint(m: LoadedManifest, out: Output): Promise<void> {
  if (m.manifest.dhcp.mode === 'proxy') {
    out.print('DHCP: brambled answers the Pis itself (proxyDHCP); run: bramble serve');
    return;
  }
  try {
    const text = await dhcpConfigText(m, 'dnsmasq');
    out.print('\nAdd to your DHCP server (dnsmasq shown; bramble dhcp config --format isc|kea for others):');
    out.raw(text);
  } catch {
    out.print(
      `\nTell your DHCP server to send option 43 "Raspberry Pi Boot" and option 66 ${m.manifest.server.address} (bramble dhcp config).`,
    );
  }
}

export function register(program: Command): void {
  const node = program
    .command('node')
    .description('manage nodes (add, ls, rm, check, adopt)')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble node add rpi-k8s-01 --serial 7a1b2c3d --image bookworm\n  bramble node ls --discovered',
    );

  node
    .command('add')
    .description(
      'add a node: extract its image if needed, lay out its TFTP and NFS trees, patch and personalise',
    )
    .argument('<hostname>')
    .option('--serial <serial>', `Pi serial: ${SERIAL_RULE}`)
    .option('--mac <mac>', 'MAC address (for TFTP_PREFIX=2 / MAC-based setups)')
    .requiredOption('--image <name|file>', 'an image name from the manifest, or an image file to add')
    .option('--model <model>', piModelList())
    .option('--address <ip>', "the node's IP address (scopes its NFS export)")
    .option('--user <name>', 'create this user')
    .option('--password-hash <hash>', 'SHA-512 crypt hash for the user (mkpasswd -m sha-512)')
    .option('--ssh-key <file|key...>', 'authorized SSH public key(s) for --user (its ~/.ssh/authorized_keys)')
    .option('--nfs-server <addr>', "the server's address (creates the manifest if there is none)")
    .option('--nfs-version <v>', 'NFS version for this node (3, 4, 4.1, 4.2)')
    .option(
      '--scratch <size[:path]>',
      'block-backed scratch volume: a sparse ext4 file in the node root, loop-mounted at PATH (default /var/lib/containerd), e.g. 20G:/var/lib/rancher',
    )
    .option(
      '--root <mode>',
      "copy (default: the node's own root), shared (the image's read-only base + the node's overlay on an ext4 volume in its layer) or shared-tmpfs (overlay in RAM: stateless)",
    )
    .option('--state <dir>', 'state directory when creating a manifest')
    .addHelpText(
      'after',
      `
Examples:
  bramble node add rpi-k8s-01 --serial 7a1b2c3d --image ./raspbian.zip --nfs-server 192.168.1.10
  bramble node add rpi-k8s-02 --mac dc:a6:32:01:36:c2 --image bookworm --model pi4 --user pi --ssh-key ~/.ssh/id_ed25519.pub`,
    )
    .action(async (hostname: string, o: AddOptions, cmd: Command) => {
      const g = globals(cmd);
      await addNode(g, outputFor(g), hostname, o);
    });

  node
    .command('adopt')
    .description('provision a Pi that asked to boot but is not in the manifest (see node ls --discovered)')
    .argument('<id>', 'its serial (or MAC) as listed by node ls --discovered')
    .requiredOption('--hostname <name>')
    .requiredOption('--image <name|file>')
    .option('--address <ip>')
    .option('--model <model>', 'override the detected model')
    .addHelpText('after', '\nExamples:\n  bramble node adopt 9ffefdef --hostname rpi-k8s-05 --image bookworm')
    .action(
      async (
        id: string,
        o: { hostname: string; image: string; address?: string; model?: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const out = outputFor(g);
        const m = await manifestFor(g);
        const found = (await readDiscovered(join(m.stateDir, 'discovered.json'))).find(
          (p) => p.id === id.toLowerCase() || p.serial === id.toLowerCase() || p.mac === id.toLowerCase(),
        );
        if (!found)
          throw new CliError('NOT_FOUND', `no discovered Pi '${id}': see bramble node ls --discovered`);
        const model = o.model ?? modelFromDetected(found.model);
        await addNode(g, out, o.hostname, {
          image: o.image,
          ...(found.serial ? { serial: found.serial } : {}),
          ...(found.mac ? { mac: found.mac } : {}),
          ...(model ? { model } : {}),
          ...(o.address ? { address: o.address } : {}),
        });
      },
    );

  node
    .command('provision')
    .description('(re)lay out the TFTP and NFS trees of nodes already in the manifest (idempotent)')
    .argument('[hostname...]', 'nodes to provision (default: all)')
    .addHelpText(
      'after',
      '\nExamples:\n  bramble node provision            # after editing bramble.yaml by hand\n  bramble node provision rpi-k8s-02',
    )
    .action(async (hostnames: string[], _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      const m = await manifestFor(g);
      for (const h of hostnames)
        if (!m.manifest.nodes.some((n) => n.hostname === h))
          throw new CliError('NOT_FOUND', `no node '${h}'`);
      for (const n of m.manifest.nodes) {
        if (hostnames.length > 0 && !hostnames.includes(n.hostname)) continue;
        const layout = await provision(m, n, out);
        out.print(`${out.green('✓')} ${n.hostname}: ${layout.changes.length} change(s)`);
      }
    });

  node
    .command('ls')
    .description('list the nodes of the manifest (or with --discovered, unknown Pis that asked to boot)')
    .option('--discovered', 'list Pis brambled saw that are not in the manifest')
    .addHelpText('after', '\nExamples:\n  bramble node ls\n  bramble node ls --discovered --json')
    .action(async (o: { discovered?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      const m = await manifestFor(g);
      if (o.discovered) {
        const known = new Set(
          m.manifest.nodes.flatMap((n) => [n.serial, n.mac].filter((x): x is string => !!x)),
        );
        const rows = (await readDiscovered(join(m.stateDir, 'discovered.json'))).filter(
          (p) => !(p.serial && known.has(p.serial)) && !(p.mac && known.has(p.mac)),
        );
        return out.table(
          rows,
          [
            { key: 'id', header: 'ID' },
            { key: 'model', header: 'MODEL' },
            { key: 'address', header: 'ADDRESS' },
            { key: 'via', header: 'VIA' },
            { key: 'mac', header: 'MAC' },
            { key: 'lastSeen', header: 'LAST SEEN' },
            { key: 'requests', header: 'REQUESTS', align: 'right' },
          ],
          { empty: 'no unknown Pis have asked to boot' },
        );
      }
      const rows = m.manifest.nodes.map((n) => ({
        hostname: n.hostname,
        serial: n.serial,
        mac: n.mac,
        model: n.model,
        image: n.image,
        address: n.address,
        provisioned: existsSync(join(m.tftpRoot, tftpDirName(n))) && existsSync(join(m.nfsRoot, n.hostname)),
      }));
      out.table(
        rows,
        [
          { key: 'hostname', header: 'HOSTNAME' },
          { key: 'serial', header: 'SERIAL' },
          { key: 'mac', header: 'MAC' },
          { key: 'model', header: 'MODEL' },
          { key: 'image', header: 'IMAGE' },
          { key: 'address', header: 'ADDRESS' },
          { key: 'provisioned', header: 'PROVISIONED', format: (v) => (v ? 'yes' : 'no') },
        ],
        { empty: 'no nodes: add one with bramble node add' },
      );
    });

  node
    .command('rm')
    .description('remove a node from the manifest and delete its TFTP and NFS trees')
    .argument('<hostname>')
    .option('--keep-files', 'only edit the manifest')
    .addHelpText('after', '\nExamples:\n  bramble node rm rpi-k8s-04 --yes')
    .action(async (hostname: string, o: { keepFiles?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      const m = await manifestFor(g);
      const idx = m.manifest.nodes.findIndex((n) => n.hostname === hostname);
      const n = m.manifest.nodes[idx];
      if (!n) throw new CliError('NOT_FOUND', `no node '${hostname}' in ${g.config}`);
      const dirs = o.keepFiles ? [] : [join(m.tftpRoot, tftpDirName(n)), join(m.nfsRoot, n.hostname)];
      if (!(await confirm(`remove ${hostname}${dirs.length ? ` and delete ${dirs.join(' and ')}` : ''}?`, g)))
        return out.print('nothing removed');
      await editManifest(g.config, (doc) => {
        doc.deleteIn(['nodes', idx]);
      });
      for (const d of dirs) await rm(d, { recursive: true, force: true });
      out.print(`removed ${hostname}`);
    });

  node
    .command('check')
    .description('check that everything each node needs is where its Pi will look')
    .argument('[hostname...]', 'nodes to check (default: all)')
    .addHelpText('after', '\nExamples:\n  bramble node check\n  bramble node check rpi-k8s-01 --json')
    .action(async (hostnames: string[], _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const out = outputFor(g);
      const m = await manifestFor(g);
      for (const h of hostnames)
        if (!m.manifest.nodes.some((n) => n.hostname === h))
          throw new CliError('NOT_FOUND', `no node '${h}'`);
      const rows = await checkRows(m, hostnames);
      if (g.json) out.data(rows);
      else if (rows.length === 0) out.print(`${out.green('✓')} no problems`);
      else
        out.table(rows, [
          {
            key: 'severity',
            header: '',
            format: (v) => (v === 'error' ? out.red('ERROR') : out.yellow('warning')),
          },
          { key: 'node', header: 'NODE' },
          { key: 'message', header: 'PROBLEM' },
          { key: 'fix', header: 'FIX' },
        ]);
      if (rows.some((r) => r.severity === 'error')) process.exitCode = 1;
    });
}
