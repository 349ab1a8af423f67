import { existsSync, lstatSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { type LoadedManifest, Mac, type ManifestNode, Serial } from '@bramble/manifest';
import { piModelList, SERIAL_RULE, tftpDirName } from '@bramble/pi';
import type { Command } from 'commander';
import { type Document, isMap, isSeq, YAMLMap, YAMLSeq } from 'yaml';
import { commandContext, editManifest, type GlobalOptions, NODE_FLAGS } from '../../context.js';
import { CliError, UsageError } from '../../errors.js';
import type { Output } from '../../output.js';
import { loadBootTree, type ScratchSpec } from '../../packages.js';
import { layoutFile, provision } from '../../store.js';
import { dhcpConfigText } from '../dhcp.js';
import { imageNameFromFile } from '../image/name.js';

export interface AddOptions {
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
  hostKeys?: string;
  state?: string;
}

const defaultStateDir = () =>
  typeof process.getuid === 'function' && process.getuid() === 0 ? '/var/lib/bramble' : './bramble-state';

export function registerAdd(node: Command): void {
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
    .option(
      '--host-keys <types>',
      'SSH host key types, comma-separated (default ed25519,ecdsa,rsa; leaving out rsa provisions faster)',
    )
    .option('--state <dir>', 'state directory when creating a manifest')
    .addHelpText(
      'after',
      `
Examples:
  bramble node add rpi-k8s-01 --serial 7a1b2c3d --image ./raspbian.zip --nfs-server 192.168.1.10
  bramble node add rpi-k8s-02 --mac dc:a6:32:01:36:c2 --image bookworm --model pi4 --user pi --ssh-key ~/.ssh/id_ed25519.pub`,
    )
    .action(async (hostname: string, options: AddOptions, cmd: Command) => {
      const { globalOptions, out } = commandContext(cmd);
      await addNode(globalOptions, out, hostname, options);
    });
}

/** Add (or adopt) a node: validate the manifest with it, provision its trees, then save the manifest. */
export async function addNode(
  globalOptions: GlobalOptions,
  out: Output,
  hostname: string,
  options: AddOptions,
): Promise<void> {
  checkAddOptions(options);
  const sshKeys = await readSshKeys(options.sshKey ?? []);
  const scratch = await parseScratch(options.scratch);
  const config = globalOptions.config;
  const creating = !existsSync(config);
  if (creating && !options.nfsServer)
    throw new UsageError(
      `no manifest at ${config}: pass --nfs-server ADDR to create one (or run bramble init)`,
    );
  const manifest = await editManifest(
    config,
    (doc) => {
      if (creating) createManifest(doc, options);
      else if (options.nfsServer) doc.setIn(['server', 'address'], options.nfsServer);
      const imageName = imageEntry(doc, config, options.image);
      nodesSeq(doc).add(doc.createNode(nodeEntry(hostname, imageName, options, sshKeys, scratch)));
    },
    (loaded) => provisionNew(loaded, hostname, out),
    { node: hostname, flags: NODE_FLAGS },
  );
  const added = manifest.manifest.nodes.find((entry) => entry.hostname === hostname) as ManifestNode;
  const rootWhat = added.root && added.root !== 'copy' ? `layer (${added.root} root)` : 'root';
  out.print(
    `${out.green('✓')} ${hostname}: TFTP ${join(manifest.tftpRoot, tftpDirName(added))}/, NFS ${rootWhat} ${join(manifest.nfsRoot, hostname)}`,
  );
  if (!globalOptions.quiet && !globalOptions.json) await printDhcpHint(manifest, out);
}

function checkAddOptions(options: AddOptions): void {
  if (!options.serial && !options.mac) throw new UsageError('a node needs --serial or --mac');
  if (options.sshKey?.length && !options.user)
    throw new UsageError(
      "--ssh-key needs --user NAME: the keys are written to that user's ~/.ssh/authorized_keys in the node root",
    );
}

/** Each `--ssh-key` is a file of keys or a key; blank lines and comments are dropped. */
async function readSshKeys(given: readonly string[]): Promise<string[]> {
  const keys: string[] = [];
  for (const fileOrKey of given) {
    const text = existsSync(fileOrKey) ? await readFile(fileOrKey, 'utf8') : fileOrKey;
    keys.push(
      ...text
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('#')),
    );
  }
  return keys;
}

async function parseScratch(flag: string | undefined): Promise<ScratchSpec | undefined> {
  if (flag === undefined) return undefined;
  const bootTree = await loadBootTree();
  try {
    return bootTree.parseScratchFlag(flag);
  } catch (e) {
    throw new UsageError(`--scratch: ${(e as Error).message}`);
  }
}

function createManifest(doc: Document, options: AddOptions): void {
  doc.contents = doc.createNode({
    version: 1,
    server: { address: options.nfsServer },
    stateDir: options.state ?? defaultStateDir(),
    images: {},
    nodes: [],
  }) as never;
}

/**
 * The image name the node refers to: `image` itself when the manifest names it or it is no file;
 * else the name of the manifest entry for that file, adding one when there is none.
 */
function imageEntry(doc: Document, config: string, image: string): string {
  const images = doc.get('images');
  if ((isMap(images) && images.has(image)) || !existsSync(image)) return image;
  const scalar = (item: unknown) => String((item as { value?: unknown })?.value ?? item);
  const existing = isMap(images)
    ? images.items.find((pair) => resolve(config, '..', scalar(pair.value)) === resolve(image))
    : undefined;
  if (existing) return scalar(existing.key);
  const name = imageNameFromFile(image);
  if (!isMap(images)) doc.set('images', new YAMLMap());
  const rel = relative(resolve(config, '..'), resolve(image));
  doc.setIn(['images', name], rel.startsWith('..') ? resolve(image) : `./${rel}`);
  return name;
}

function nodeEntry(
  hostname: string,
  imageName: string,
  options: AddOptions,
  sshKeys: string[],
  scratch: ScratchSpec | undefined,
): Record<string, unknown> {
  const entry: Record<string, unknown> = { hostname };
  // Store the normalised forms (7a1b2c3d, dc:a6:32:01:36:c2); invalid input is reported by path later.
  if (options.serial) entry.serial = Serial.safeParse(options.serial).data ?? options.serial;
  if (options.mac) entry.mac = Mac.safeParse(options.mac).data ?? options.mac;
  if (options.model) entry.model = options.model;
  entry.image = imageName;
  if (options.address) entry.address = options.address;
  if (options.user)
    entry.user = {
      name: options.user,
      ...(options.passwordHash ? { passwordHash: options.passwordHash } : {}),
    };
  if (sshKeys.length > 0) entry.sshKeys = sshKeys;
  if (options.nfsVersion) entry.nfsVersion = options.nfsVersion;
  if (scratch) entry.scratch = scratch;
  if (options.root && options.root !== 'copy') entry.root = options.root;
  // Checked against @bramble/boot-tree's rule with the rest of the entry (errors name hostKeys).
  if (options.hostKeys) entry.hostKeys = options.hostKeys.split(',').map((type) => type.trim());
  return entry;
}

function nodesSeq(doc: Document): YAMLSeq {
  const nodes = doc.get('nodes');
  if (isSeq(nodes)) return nodes;
  const seq = new YAMLSeq();
  doc.set('nodes', seq);
  return seq;
}

/** Provision the added node before the manifest is saved; on failure nothing new is left behind. */
async function provisionNew(loaded: LoadedManifest, hostname: string, out: Output): Promise<void> {
  const added = loaded.manifest.nodes.find((entry) => entry.hostname === hostname);
  if (!added) throw new CliError('INTERNAL', 'node vanished from the manifest');
  await allOrNothing(
    [
      loaded.stateDir,
      loaded.tftpRoot,
      loaded.nfsRoot,
      join(loaded.imagesDir, added.image),
      join(loaded.tftpRoot, tftpDirName(added)),
      join(loaded.nfsRoot, added.hostname),
      layoutFile(loaded, added.hostname),
    ],
    () => provision(loaded, added, out),
  );
}

/**
 * Run `work`; when it fails, remove those of `paths` that did not exist before it (deepest first), so a
 * failed `node add` leaves neither node trees nor state the manifest does not know about. What existed
 * before is never removed.
 */
async function allOrNothing<T>(paths: readonly string[], work: () => Promise<T>): Promise<T> {
  const present = (path: string) => {
    try {
      lstatSync(path);
      return true;
    } catch {
      return false;
    }
  };
  const created = paths.filter((path) => !present(path));
  try {
    return await work();
  } catch (e) {
    for (const path of [...created].sort((a, b) => b.length - a.length))
      await rm(path, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

async function printDhcpHint(manifest: LoadedManifest, out: Output): Promise<void> {
  if (manifest.manifest.dhcp.mode === 'proxy') {
    out.print('DHCP: brambled answers the Pis itself (proxyDHCP); run: bramble serve');
    return;
  }
  try {
    const text = await dhcpConfigText(manifest, 'dnsmasq');
    out.print('\nAdd to your DHCP server (dnsmasq shown; bramble dhcp config --format isc|kea for others):');
    out.raw(text);
  } catch {
    out.print(
      `\nTell your DHCP server to send option 43 "Raspberry Pi Boot" and option 66 ${manifest.manifest.server.address} (bramble dhcp config).`,
    );
  }
}
