import { lstat, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '@bramble/logger';
import { definedOnly, macDirName, tftpDirName } from '@bramble/pi';
import { type CloneMode, cloneTree } from './clone.js';
import { BootTreeError, throwIfAborted } from './errors.js';
import type { ExportNode } from './exports/common.js';
import { readTextIfExists, writeText } from './fs-util.js';
import { IMAGES_DIR, installBootcode, installImageBoot, type LinkMode, linkNodeBoot } from './layout.js';
import { type NodeSpec, parseNodeSpec } from './node-spec.js';
import { NodeTree } from './node-tree.js';
import { patchCmdline } from './patch/cmdline.js';
import { patchConfigTxt } from './patch/config-txt.js';
import { patchFstab } from './patch/fstab.js';
import { writeAuthorizedKeys } from './personalise/authorized-keys.js';
import { installBootReport } from './personalise/boot-report.js';
import { writeCloudInitSeed } from './personalise/cloud-init.js';
import { DEFAULT_HOST_KEY_TYPES, type HostKeyType, prepareHostKeys } from './personalise/host-keys.js';
import { setHostname } from './personalise/hostname.js';
import { setMachineId } from './personalise/machine-id.js';
import { ensureScratchVolume, SCRATCH_FILE } from './personalise/scratch.js';
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
import { installBootArchive } from './shared-root/boot-archive.js';
import { patchSharedCmdline } from './shared-root/cmdline.js';
import { commitIdentity, type Stage, stageIdentity } from './shared-root/identity.js';
import { installOverlayScript } from './shared-root/initramfs.js';
import { DEFAULT_UPPER_SIZE, ensureUpperVolume, upperKind } from './shared-root/layer.js';
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
  /**
   * brambled's "userspace up" URL (http://SERVER:PORT/boot/up): installs a unit that reports there once
   * multi-user.target is reached. Omitted: no unit (opt-out).
   */
  bootReportUrl?: string;
  /**
   * Shared-root nodes: what of the node's current identity is laid over the base before personalising.
   * 'all' (default): everything (re-provisioning changes only what the spec changed); 'secrets': only
   * machine-id and SSH host keys (a new base: passwd, fstab… are derived from it again).
   */
  carryIdentity?: 'all' | 'secrets';
  /** Shared-root nodes (`root: 'shared'`): size of the sparse ext4 upper volume (default 8G). */
  upperSize?: string;
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
  /** 'copy': rootPath is the node's own root; 'shared'/'shared-tmpfs': rootPath is its layer over basePath. */
  rootMode: 'copy' | 'shared' | 'shared-tmpfs';
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
 * image root and personalised (fstab, hostname, machine-id, SSH, user, keys, services, cloud-init seed).
 * Idempotent: re-running updates files in place, never duplicates lines, and keeps an existing node root,
 * its host keys and its machine-id.
 *
 * Every read and write inside the image's trees and the node's trees goes through NodeTree: symlinks
 * in an image resolve inside the tree (as the node sees them), never on the host.
 *
 * All or nothing: when provisioning fails, what this run created (the node's TFTP directory and NFS root,
 * the image's shared boot files, bootcode.bin) is removed again; what existed before is left alone.
 */
export async function provisionNode(options: ProvisionOptions): Promise<NodeLayout> {
  const node = parseNodeSpec(options.node);
  const tftpRoot = resolve(options.tftpRoot);
  const nfsRoot = resolve(options.nfsRoot);
  if (node.image !== options.image.name) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `node '${node.hostname}' wants image '${node.image}' but image '${options.image.name}' was given`,
    );
  }
  const plan = await planLayout(node, { ...options, tftpRoot, nfsRoot });
  const created = await absent([
    plan.tftpDir,
    plan.rootPath,
    join(tftpRoot, IMAGES_DIR, options.image.name),
    join(tftpRoot, 'bootcode.bin'),
  ]);
  try {
    return await provisionPlanned(options, node, plan);
  } catch (e) {
    for (const path of created) await rm(path, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

/** The paths of `paths` that do not exist now (neither file, directory nor symlink). */
async function absent(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) if (!(await lstat(path).catch(() => undefined))) out.push(path);
  return out;
}

async function provisionPlanned(
  options: ProvisionOptions,
  node: NodeSpec,
  plan: Omit<NodeLayout, 'cmdline' | 'changes'>,
): Promise<NodeLayout> {
  const log = options.logger?.child({ node: node.hostname });
  const changes: string[] = [];
  const { release, nfsVersion, tftpDirName: dirName, tftpDir, rootPath, tftpRoot } = plan;
  const loggerAndSignal = definedOnly({ logger: log, signal: options.signal });
  const userMode = options.userMode ?? 'bake';
  if (userMode === 'userconf' && node.sshKeys?.length && !release.usesCloudInit) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `node '${node.hostname}': sshKeys need userMode 'bake' on ${release.codename} (the userconf.txt user only exists after first boot)`,
    );
  }

  if (node.sshKeys?.length && !node.user) {
    // Keys are written to a user's ~/.ssh/authorized_keys: without a user they would be stored and go
    // nowhere, silently.
    throw new BootTreeError(
      'INVALID_INPUT',
      `node '${node.hostname}': sshKeys need a user (the keys go to ~USER/.ssh/authorized_keys)`,
    );
  }

  if (node.scratch && upperKind(node)) {
    throw new BootTreeError(
      'INVALID_INPUT',
      `node '${node.hostname}': a shared root has no scratch volume (its whole root is writable through the layer's ext4 upper)`,
    );
  }

  // TFTP side
  const sharedDir = await installImageBoot(tftpRoot, options.image, {
    refresh: options.refreshImage ?? false,
    ...loggerAndSignal,
  });
  if (await installBootcode(tftpRoot, sharedDir, options.refreshImage ?? false))
    changes.push('tftp:bootcode.bin');
  // U-Boot (generic arm64 boards, QEMU -M virt) finds MAC-named node directories through this script.
  if (node.mac && dirName === macDirName(node.mac)) {
    const script = encodeUbootScript(ubootNetbootScript());
    if (await writeText(join(tftpRoot, UBOOT_SCRIPT_NAME), script)) changes.push(`tftp:${UBOOT_SCRIPT_NAME}`);
  }
  const upper = upperKind(node);
  if (upper) {
    // The overlay step rides on the image's own initramfs (an appended cpio; inert without boot=bramble).
    const step = await installBootArchive({
      bootDir: options.image.bootDir,
      sharedDir,
      baseRoot: options.image.rootDir,
    });
    changes.push(
      ...step.written.map((name) => `tftp:${IMAGES_DIR}/${options.image.name}/${name}: overlay step`),
    );
    if (step.initramfs.length === 0)
      log?.warn(
        { image: options.image.name },
        'the image has no initramfs: a shared root cannot assemble its overlay',
      );
    else if (step.kernels.length === 0)
      log?.warn(
        { image: options.image.name },
        "no kernel in the base's /lib/modules has overlay, loop and ext4 modules: the kernel must have them built in",
      );
  }
  const linked = await linkNodeBoot(sharedDir, tftpDir, options.linkMode ?? 'hardlink');
  if (linked) changes.push(`tftp:${dirName}: ${linked} shared boot files linked`);
  const shared = await NodeTree.open(sharedDir);
  const boot = await NodeTree.open(tftpDir);
  const imgCmdline = (await shared.readText('/cmdline.txt')) ?? '';
  const cmdline =
    upper && plan.basePath
      ? patchSharedCmdline(imgCmdline, {
          nfsServer: options.nfsServer,
          basePath: plan.basePath,
          layerPath: rootPath,
          upper,
          nfsVersion,
        })
      : patchCmdline(imgCmdline, { nfsServer: options.nfsServer, nfsPath: rootPath, nfsVersion });
  if (await boot.writeFile('/cmdline.txt', cmdline)) changes.push(`tftp:${dirName}/cmdline.txt`);
  const imgConfig = await shared.readText('/config.txt');
  if (imgConfig !== undefined) {
    const cfg = patchConfigTxt(imgConfig, { nfsVersion, usesInitramfs: release.usesInitramfs });
    if (await boot.writeFile('/config.txt', cfg)) changes.push(`tftp:${dirName}/config.txt`);
  }
  throwIfAborted(options.signal);

  // NFS root: the node's own clone, or (shared) a staging tree whose differences from the base become
  // the node's identity in its layer.
  let stage: Stage | undefined;
  let root: NodeTree;
  let upperVolume: Promise<string[]> | undefined;
  if (upper) {
    changes.push(...(await installOverlayScript(options.image.rootDir)).map((p) => `base:${p}`));
    if (await mkdirLayer(rootPath)) changes.push(`nfs:${node.hostname}: layer created`);
    // mke2fs formats the upper volume beside the staging and personalisation (it writes upper.ext4 only).
    if (upper === 'volume')
      upperVolume = ensureUpperVolume(rootPath, options.upperSize ?? DEFAULT_UPPER_SIZE);
    try {
      stage = await stageIdentity(options.image.rootDir, rootPath, { carry: options.carryIdentity ?? 'all' });
    } catch (e) {
      await upperVolume?.catch(() => undefined); // finished before the caller removes the layer
      throw e;
    }
    root = stage.tree;
  } else {
    if (
      await cloneTree(options.image.rootDir, rootPath, {
        mode: options.cloneMode ?? 'copy',
        ...loggerAndSignal,
      })
    ) {
      changes.push(`nfs:${node.hostname}: cloned`);
    }
    root = await NodeTree.open(rootPath);
  }
  throwIfAborted(options.signal);
  try {
    changes.push(...(await personaliseRoot(options, node, plan, root, boot)));
  } catch (e) {
    await upperVolume?.catch(() => undefined); // finished before the caller removes the layer
    throw e;
  }
  if (upperVolume) changes.push(...(await upperVolume));
  if (stage) {
    const identity = await commitIdentity(stage, options.image.rootDir, rootPath);
    log?.debug({ entries: identity.length }, 'node identity written to its layer');
  }
  log?.info({ changes: changes.length, tftpDir, rootPath, nfsVersion }, 'node provisioned');
  return { ...plan, cmdline, changes };
}

/**
 * Personalise a node root (its own, or a shared node's stage): fstab, hostname, machine-id, SSH, services,
 * boot report, host keys (made in the thread pool while the rest is written), user, cloud-init seed.
 */
async function personaliseRoot(
  options: ProvisionOptions,
  node: NodeSpec,
  plan: Omit<NodeLayout, 'cmdline' | 'changes'>,
  root: NodeTree,
  boot: NodeTree,
): Promise<string[]> {
  const changes: string[] = [];
  const { release, nfsVersion, tftpDirName: dirName, tftpDir } = plan;
  const userMode = options.userMode ?? 'bake';
  // The host keys are made in the thread pool while the rest of the root is personalised.
  const keyTypes = node.hostKeys ?? options.hostKeyTypes ?? DEFAULT_HOST_KEY_TYPES;
  const writeHostKeys = keyTypes.length
    ? await prepareHostKeys(root, { hostname: node.hostname, types: keyTypes })
    : undefined;
  if (node.scratch) changes.push(...(await ensureScratchVolume(root, node.scratch)));
  const fstab =
    (await root.readText('/etc/fstab')) ??
    'proc            /proc           proc    defaults          0       0\n';
  const newFstab = patchFstab(fstab, {
    nfsServer: options.nfsServer,
    bootPath: tftpDir,
    bootMount: release.bootMount,
    nfsVersion,
    scratch: node.scratch ? { file: SCRATCH_FILE, mountPoint: node.scratch.path } : undefined,
  });
  if (await root.writeFile('/etc/fstab', newFstab)) changes.push('/etc/fstab');
  changes.push(...(await setHostname(root, node.hostname)));
  changes.push(...(await setMachineId(root, { image: options.image.rootDir })));
  changes.push(...(await enableSsh(root, boot)));
  changes.push(...(await disableSdCardServices(root)));
  if (options.bootReportUrl !== undefined)
    changes.push(...(await installBootReport(root, options.bootReportUrl)));

  let passwordHash = node.passwordHash;
  if (node.password !== undefined && node.user) {
    // Keep the stored hash while it still matches the password, so re-runs change nothing.
    const stored = (await storedHash(root, node.user)) ?? (await userconfHash(boot, node.user));
    passwordHash =
      stored && (await verifyPassword(node.password, stored)) ? stored : await hashPassword(node.password);
  }
  if (node.user) {
    if (userMode === 'userconf') {
      if (passwordHash && (await writeUserconf(boot, node.user, passwordHash))) {
        changes.push(`tftp:${dirName}/userconf.txt`);
      }
    } else {
      changes.push(...(await bakeUser(root, { user: node.user, passwordHash })));
      if (node.sshKeys?.length && (await writeAuthorizedKeys(root, node.user, node.sshKeys))) {
        changes.push(`~${node.user}/.ssh/authorized_keys`);
      }
    }
  }
  if (release.usesCloudInit) {
    changes.push(
      ...(await writeCloudInitSeed(root, boot, {
        hostname: node.hostname,
        user: node.user,
        passwordHash,
        sshKeys: node.sshKeys,
      })),
    );
  }
  if (writeHostKeys) changes.push(...(await writeHostKeys()));
  return changes;
}

/**
 * The layout a node has (or will have) without changing anything: paths, release, NFS version and the
 * cmdline.txt currently on disk (empty when not provisioned yet). For `checkNode` from a manifest and for
 * generating exports without re-provisioning. `rootDir` may be the image root or the node root.
 */
export async function resolveNodeLayout(options: {
  node: NodeSpec | Record<string, unknown>;
  image: { name: string; rootDir: string };
  tftpRoot: string;
  nfsRoot: string;
  nfsServer: string;
}): Promise<NodeLayout> {
  const plan = await planLayout(parseNodeSpec(options.node), {
    ...options,
    tftpRoot: resolve(options.tftpRoot),
    nfsRoot: resolve(options.nfsRoot),
  });
  const cmdline = (await readTextIfExists(join(plan.tftpDir, 'cmdline.txt'))) ?? '';
  return { ...plan, cmdline, changes: [] };
}

/** Make a shared node's layer directory; refuses a directory that holds a copy-mode root. */
async function mkdirLayer(layerDir: string): Promise<boolean> {
  const st = await lstat(layerDir).catch(() => undefined);
  if (st) {
    if (await lstat(join(layerDir, 'etc')).catch(() => undefined)) {
      throw new BootTreeError(
        'INVALID_INPUT',
        `'${layerDir}' holds a full node root (copy mode): remove the node first to switch it to a shared root`,
      );
    }
    return false;
  }
  await mkdir(layerDir, { recursive: true, mode: 0o755 });
  return true;
}

/** Where a node's files go and how it boots: everything in a NodeLayout but the cmdline and the changes. */
async function planLayout(
  node: NodeSpec,
  options: { image: { name: string; rootDir: string }; tftpRoot: string; nfsRoot: string; nfsServer: string },
): Promise<Omit<NodeLayout, 'cmdline' | 'changes'>> {
  const rootMode = node.root ?? 'copy';
  const release = await detectRelease(options.image.rootDir);
  const dirName = tftpDirName(node);
  const tftpDir = join(options.tftpRoot, dirName);
  return {
    node: withoutSecrets(node),
    hostname: node.hostname,
    address: node.address,
    image: options.image.name,
    release,
    tftpDirName: dirName,
    tftpDir,
    tftpRoot: options.tftpRoot,
    nfsRoot: options.nfsRoot,
    nfsServer: options.nfsServer,
    rootPath: join(options.nfsRoot, node.hostname),
    bootPath: tftpDir,
    rootMode,
    ...(rootMode === 'copy' ? {} : { basePath: resolve(options.image.rootDir) }),
    nfsVersion: node.nfsVersion ?? release.defaultNfsVersion,
    usesInitramfs: release.usesInitramfs,
  };
}
