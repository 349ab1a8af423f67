import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { type CloneMode, cloneTree } from './clone.js';
import { BootTreeError, throwIfAborted } from './errors.js';
import type { ExportNode } from './exports/common.js';
import { readTextIfExists, writeText } from './fs-util.js';
import { installBootcode, installImageBoot, type LinkMode, linkNodeBoot } from './layout.js';
import { macDirName, type NodeSpec, parseNodeSpec, tftpDirName } from './node-spec.js';
import { patchCmdline } from './patch/cmdline.js';
import { patchConfigTxt } from './patch/config-txt.js';
import { patchFstab } from './patch/fstab.js';
import { writeAuthorizedKeys } from './personalise/authorized-keys.js';
import { writeCloudInitSeed } from './personalise/cloud-init.js';
import { generateHostKeys, type HostKeyType } from './personalise/host-keys.js';
import { setHostname } from './personalise/hostname.js';
import { disableSdCardServices } from './personalise/services.js';
import { enableSsh } from './personalise/ssh.js';
import {
  bakeUser,
  hashPassword,
  storedHash,
  userconfHash,
  verifyPassword,
  writeUserconf,
} from './personalise/user.js';
import { detectRelease, type ReleaseInfo } from './release.js';
import { encodeUbootScript, UBOOT_SCRIPT_NAME, ubootNetbootScript } from './uboot-script.js';

export interface ProvisionOptions {
  /** The node (validated with NodeSpec; raw input is accepted and parsed). */
  node: NodeSpec | Record<string, unknown>;
  /** An extracted image: its boot partition and root partition directories. */
  image: { name: string; bootDir: string; rootDir: string };
  tftpRoot: string;
  nfsRoot: string;
  /** Address (or host name) of the NFS server the node mounts its root and boot directory from. */
  nfsServer: string;
  /** How the node root is made from the image root (default 'copy': reflink clone or full copy). */
  cloneMode?: CloneMode;
  /** How the node's TFTP directory shares the image boot files (default 'hardlink'). */
  linkMode?: LinkMode;
  /**
   * 'bake' (default): user written into passwd/shadow/group, first-boot rename wizard cancelled.
   * 'userconf': only userconf.txt in the boot directory (consumed by userconfig.service on first boot).
   */
  userMode?: 'bake' | 'userconf';
  /** SSH host key types generated per node (default ed25519, ecdsa, rsa); [] to skip. */
  hostKeyTypes?: readonly HostKeyType[];
  /** Re-copy the image's shared boot files into the TFTP root even if present. */
  refreshImage?: boolean;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface NodeLayout extends ExportNode {
  /** The node spec without its plain `password` (layouts are stored as JSON by the CLI). */
  node: NodeSpec;
  image: string;
  release: ReleaseInfo;
  /** Directory name of the node in the TFTP root (serial or `dc-a6-32-…`). */
  tftpDirName: string;
  /** The node's TFTP directory (absolute) = bootPath. */
  tftpDir: string;
  tftpRoot: string;
  nfsRoot: string;
  nfsServer: string;
  /** cmdline.txt as written. */
  cmdline: string;
  /** What changed on this run (empty on an idempotent re-run). */
  changes: string[];
}

/** A NodeSpec safe to store: the plain password is dropped (its hash lives in the node root). */
function withoutSecrets(node: NodeSpec): NodeSpec {
  const { password: _password, ...rest } = node;
  return rest;
}

/**
 * Provision one node from an extracted image: shared boot files + bootcode.bin in the TFTP root, the
 * node's TFTP directory with its own cmdline.txt/config.txt/ssh/userconf.txt, its NFS root cloned from the
 * image root and personalised (fstab, hostname, SSH, user, keys, services, cloud-init seed). Idempotent:
 * re-running updates files in place, never duplicates lines, and keeps an existing node root and its
 * host keys.
 */
export async function provisionNode(o: ProvisionOptions): Promise<NodeLayout> {
  const node = parseNodeSpec(o.node);
  const log = o.logger?.child({ node: node.hostname });
  const changes: string[] = [];
  const tftpRoot = resolve(o.tftpRoot);
  const nfsRoot = resolve(o.nfsRoot);
  if (node.image !== o.image.name) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `node '${node.hostname}' wants image '${node.image}' but image '${o.image.name}' was given`,
    );
  }
  const plan = await planLayout(node, { ...o, tftpRoot, nfsRoot });
  const { release, nfsVersion, tftpDirName: dirName, tftpDir, rootPath } = plan;
  const sig = o.signal ? { signal: o.signal } : {};
  const lg = log ? { logger: log } : {};
  const userMode = o.userMode ?? 'bake';
  if (userMode === 'userconf' && node.sshKeys?.length && !release.usesCloudInit) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `node '${node.hostname}': sshKeys need userMode 'bake' on ${release.codename} (the userconf.txt user only exists after first boot)`,
    );
  }

  // TFTP side
  const shared = await installImageBoot(tftpRoot, o.image, {
    refresh: o.refreshImage ?? false,
    ...lg,
    ...sig,
  });
  if (await installBootcode(tftpRoot, shared, o.refreshImage ?? false)) changes.push('tftp:bootcode.bin');
  // U-Boot (generic arm64 boards, QEMU -M virt) finds MAC-named node directories through this script.
  if (node.mac && dirName === macDirName(node.mac)) {
    const script = encodeUbootScript(ubootNetbootScript());
    if (await writeText(join(tftpRoot, UBOOT_SCRIPT_NAME), script)) changes.push(`tftp:${UBOOT_SCRIPT_NAME}`);
  }
  const linked = await linkNodeBoot(shared, tftpDir, o.linkMode ?? 'hardlink');
  if (linked) changes.push(`tftp:${dirName}: ${linked} shared boot files linked`);
  const imgCmdline = (await readTextIfExists(join(shared, 'cmdline.txt'))) ?? '';
  const cmdline = patchCmdline(imgCmdline, { nfsServer: o.nfsServer, nfsPath: rootPath, nfsVersion });
  if (await writeText(join(tftpDir, 'cmdline.txt'), cmdline)) changes.push(`tftp:${dirName}/cmdline.txt`);
  const imgConfig = await readTextIfExists(join(shared, 'config.txt'));
  if (imgConfig !== undefined) {
    const cfg = patchConfigTxt(imgConfig, { nfsVersion, usesInitramfs: release.usesInitramfs });
    if (await writeText(join(tftpDir, 'config.txt'), cfg)) changes.push(`tftp:${dirName}/config.txt`);
  }
  throwIfAborted(o.signal);

  // NFS root
  if (await cloneTree(o.image.rootDir, rootPath, { mode: o.cloneMode ?? 'copy', ...lg, ...sig })) {
    changes.push(`nfs:${node.hostname}: cloned`);
  }
  throwIfAborted(o.signal);
  const fstabPath = join(rootPath, 'etc/fstab');
  const fstab =
    (await readTextIfExists(fstabPath)) ??
    'proc            /proc           proc    defaults          0       0\n';
  const newFstab = patchFstab(fstab, {
    nfsServer: o.nfsServer,
    bootPath: tftpDir,
    bootMount: release.bootMount,
    nfsVersion,
  });
  if (await writeText(fstabPath, newFstab)) changes.push('/etc/fstab');
  changes.push(...(await setHostname(rootPath, node.hostname)));
  changes.push(...(await enableSsh(rootPath, tftpDir)));
  changes.push(...(await disableSdCardServices(rootPath)));
  const keyTypes = o.hostKeyTypes ?? ['ed25519', 'ecdsa', 'rsa'];
  if (keyTypes.length)
    changes.push(...(await generateHostKeys(rootPath, { hostname: node.hostname, types: keyTypes })));

  let passwordHash = node.passwordHash;
  if (node.password !== undefined && node.user) {
    // Keep the stored hash while it still matches the password, so re-runs change nothing.
    const stored = (await storedHash(rootPath, node.user)) ?? (await userconfHash(tftpDir, node.user));
    passwordHash =
      stored && (await verifyPassword(node.password, stored)) ? stored : await hashPassword(node.password);
  }
  if (node.user) {
    if (userMode === 'userconf') {
      if (passwordHash && (await writeUserconf(tftpDir, node.user, passwordHash))) {
        changes.push(`tftp:${dirName}/userconf.txt`);
      }
    } else {
      changes.push(...(await bakeUser(rootPath, { user: node.user, passwordHash })));
      if (node.sshKeys?.length && (await writeAuthorizedKeys(rootPath, node.user, node.sshKeys))) {
        changes.push(`~${node.user}/.ssh/authorized_keys`);
      }
    }
  }
  if (release.usesCloudInit) {
    changes.push(
      ...(await writeCloudInitSeed(rootPath, tftpDir, {
        hostname: node.hostname,
        user: node.user,
        passwordHash,
        sshKeys: node.sshKeys,
      })),
    );
  }
  log?.info({ changes: changes.length, tftpDir, rootPath, nfsVersion }, 'node provisioned');
  return { ...plan, cmdline, changes };
}

/**
 * The layout a node has (or will have) without changing anything: paths, release, NFS version and the
 * cmdline.txt currently on disk (empty when not provisioned yet). For `checkNode` from a manifest and for
 * generating exports without re-provisioning. `rootDir` may be the image root or the node root.
 */
export async function resolveNodeLayout(o: {
  node: NodeSpec | Record<string, unknown>;
  image: { name: string; rootDir: string };
  tftpRoot: string;
  nfsRoot: string;
  nfsServer: string;
}): Promise<NodeLayout> {
  const plan = await planLayout(parseNodeSpec(o.node), {
    ...o,
    tftpRoot: resolve(o.tftpRoot),
    nfsRoot: resolve(o.nfsRoot),
  });
  const cmdline = (await readTextIfExists(join(plan.tftpDir, 'cmdline.txt'))) ?? '';
  return { ...plan, cmdline, changes: [] };
}

/** Where a node's files go and how it boots: everything in a NodeLayout but the cmdline and the changes. */
async function planLayout(
  node: NodeSpec,
  o: { image: { name: string; rootDir: string }; tftpRoot: string; nfsRoot: string; nfsServer: string },
): Promise<Omit<NodeLayout, 'cmdline' | 'changes'>> {
  const release = await detectRelease(o.image.rootDir);
  const dirName = tftpDirName(node);
  const tftpDir = join(o.tftpRoot, dirName);
  return {
    node: withoutSecrets(node),
    hostname: node.hostname,
    address: node.address,
    image: o.image.name,
    release,
    tftpDirName: dirName,
    tftpDir,
    tftpRoot: o.tftpRoot,
    nfsRoot: o.nfsRoot,
    nfsServer: o.nfsServer,
    rootPath: join(o.nfsRoot, node.hostname),
    bootPath: tftpDir,
    nfsVersion: node.nfsVersion ?? release.defaultNfsVersion,
    usesInitramfs: release.usesInitramfs,
  };
}
