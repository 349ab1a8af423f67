import { randomBytes } from 'node:crypto';
import { NodeTree } from '../node-tree.js';

/** machine-id(5): 32 lowercase hexadecimal characters, newline-terminated. */
const MACHINE_ID = /^[0-9a-f]{32}$/;

/**
 * A new machine ID as systemd makes one (sd_id128_randomize): 128 random bits formatted as a v4 UUID
 * (version nibble 4, RFC 4122 variant bits), written as 32 lowercase hex digits.
 */
export function newMachineId(): string {
  const id = randomBytes(16);
  id[6] = ((id[6] as number) & 0x0f) | 0x40;
  id[8] = ((id[8] as number) & 0x3f) | 0x80;
  return id.toString('hex');
}

/**
 * Give a node its own /etc/machine-id (0444, as systemd writes it) and point /var/lib/dbus/machine-id at
 * it (the symlink Debian's dbus package makes). The image's ID is never kept: every node of one image
 * would share DHCP client id, journal and Kubernetes node identity. A node's own valid ID (differing from
 * the image's) is kept on re-runs.
 *
 * A non-empty, valid machine-id also makes first boot non-interactive: systemd treats a missing, empty or
 * `uninitialized` /etc/machine-id as first boot (machine-id(5), "First Boot Semantics"), and
 * systemd-firstboot.service — which prompts for locale, keymap, timezone and root password on the
 * console — runs only with ConditionFirstBoot=yes (systemd's units/systemd-firstboot.service). With an
 * initialised ID the condition is false and a headless node never stops at that prompt. Returns the changed paths.
 */
export async function setMachineId(
  root: NodeTree | string,
  options: { image?: NodeTree | string | undefined } = {},
): Promise<string[]> {
  const tree = await NodeTree.from(root);
  const changed: string[] = [];
  const current = (await readId(tree)) ?? '';
  const imageId = options.image ? await readId(await NodeTree.from(options.image)) : undefined;
  if (!MACHINE_ID.test(current) || current === imageId) {
    await tree.writeFile('/etc/machine-id', `${newMachineId()}\n`, { mode: 0o444, uid: 0, gid: 0 });
    changed.push('/etc/machine-id');
  }
  if (await tree.symlink('/etc/machine-id', '/var/lib/dbus/machine-id')) {
    changed.push('/var/lib/dbus/machine-id');
  }
  return changed;
}

async function readId(tree: NodeTree): Promise<string | undefined> {
  const st = await tree.stat('/etc/machine-id');
  if (!st?.isFile()) return undefined;
  return (await tree.readText('/etc/machine-id', 4096))?.trim();
}
