/**
 * @bramble/boot-tree — per-node Raspberry Pi netboot trees: release-aware cmdline.txt / fstab /
 * config.txt patching, personalisation of NFS roots, and NFS exports (kernel, nfs-ganesha, compose).
 * @packageDocumentation
 */

export { type Logger, silentLogger } from '@bramble/logger';
export {
  type CheckOptions,
  type CheckProblem,
  type CheckRule,
  type CheckTarget,
  checkNode,
  checkNodes,
  DIRECTORY_RULES,
  formatProblem,
  gatherFacts,
  NODE_DIR_RULE,
  NODE_RULES,
  type NodeFacts,
  runRules,
} from './check.js';
export { type CloneMode, type CloneOptions, cloneTree } from './clone.js';
export { type CpioDirectory, type CpioEntry, type CpioFile, type CpioSymlink, writeCpio } from './cpio.js';
export { BootTreeError, type BootTreeErrorCode } from './errors.js';
export { type ApplyKernelExportsOptions, applyKernelExports } from './exports/apply.js';
export type { ExportNode, ExportScopeOptions } from './exports/common.js';
export { type ComposeOptions, composeFile, composeWarnings } from './exports/compose.js';
export { exportsFile } from './exports/exports.js';
export { type GaneshaOptions, ganeshaConfig } from './exports/ganesha.js';
export {
  IMAGES_DIR,
  installBootcode,
  installImageBoot,
  type LinkMode,
  linkNodeBoot,
  PER_NODE_BOOT_FILES,
} from './layout.js';
export {
  NFS_VERSIONS,
  type NfsVersion,
  NodeSpec,
  type NodeSpecInput,
  parseNodeSpec,
} from './node-spec.js';
export {
  MAX_SYMLINK_HOPS,
  MAX_TREE_ENTRIES,
  MAX_TREE_PATH,
  MAX_TREE_READ_BYTES,
  NodeTree,
  type TreeWriteOptions,
} from './node-tree.js';
export { type CmdlineOptions, patchCmdline } from './patch/cmdline.js';
export { type ConfigTxtOptions, patchConfigTxt } from './patch/config-txt.js';
export {
  FSTAB_MARKER,
  FSTAB_SCRATCH_MARKER,
  type FstabOptions,
  patchFstab,
  sdCardLines,
} from './patch/fstab.js';
export { hostnameFile, patchHosts } from './patch/hosts.js';
export { writeAuthorizedKeys } from './personalise/authorized-keys.js';
export {
  BOOT_REPORT_SCRIPT,
  BOOT_REPORT_UNIT,
  bootReportScript,
  bootReportUnit,
  installBootReport,
} from './personalise/boot-report.js';
export { type CloudInitSeed, cloudInitSeed, writeCloudInitSeed } from './personalise/cloud-init.js';
export {
  DEFAULT_HOST_KEY_TYPES,
  generateHostKeys,
  type HostKeyType,
  type HostKeyWriter,
  prepareHostKeys,
} from './personalise/host-keys.js';
export { setHostname } from './personalise/hostname.js';
export { newMachineId, setMachineId } from './personalise/machine-id.js';
export {
  generateOpenSshKeyPair,
  HOST_KEY_TYPES,
  type OpenSshKeyPair,
  RSA_BITS,
} from './personalise/openssh-key.js';
export {
  ensureScratchVolume,
  parseScratchFlag,
  SCRATCH_DEFAULT_PATH,
  SCRATCH_FILE,
  SCRATCH_LABEL,
  ScratchSpec,
  scratchBytes,
} from './personalise/scratch.js';
export { disableSdCardServices, NFS_ROOT_MASKED_UNITS } from './personalise/services.js';
export { enableSsh } from './personalise/ssh.js';
export { disableUnit, enableUnit, maskUnit } from './personalise/systemd.js';
export { bakeUser, hashPassword, userconfText, verifyPassword, writeUserconf } from './personalise/user.js';
export { type NodeLayout, type ProvisionOptions, provisionNode, resolveNodeLayout } from './provision.js';
export {
  type BootMount,
  detectRelease,
  parseOsRelease,
  type ReleaseInfo,
  releaseFromOsRelease,
} from './release.js';
export {
  type BaseUser,
  baseUsers,
  CURRENT_BASE_SUFFIX,
  currentBaseFile,
  currentBaseName,
  listBases,
  newBaseName,
  type PruneOptions,
  type PruneResult,
  pruneBases,
  removeImageBases,
  type StoredBase,
  withOlderBases,
} from './shared-root/bases.js';
export {
  appendArchive,
  type BootArchive,
  bootArchive,
  type InstalledBootArchive,
  initramfsNames,
  installBootArchive,
  moduleName,
  OVERLAY_MODULES,
} from './shared-root/boot-archive.js';
export {
  parseSharedCmdline,
  patchSharedCmdline,
  type SharedCmdlineOptions,
  switchSharedBase,
  type UpperKind,
} from './shared-root/cmdline.js';
export {
  commitIdentity,
  IDENTITY_DIR,
  IDENTITY_REMOVED,
  IDENTITY_SOURCES,
  IDENTITY_STAMP,
  identityRoot,
  stageIdentity,
} from './shared-root/identity.js';
export {
  BOOT_SCRIPT,
  BOOT_SCRIPT_NAME,
  INITRAMFS_OVERLAY_PATH,
  installOverlayScript,
  OVERLAY_HOOK,
  OVERLAY_HOOK_PATH,
  OVERLAY_SCRIPT,
  OVERLAY_SCRIPT_PATH,
} from './shared-root/initramfs.js';
export {
  DEFAULT_UPPER_SIZE,
  ensureUpperVolume,
  ROOT_MODES,
  type RootMode,
  UPPER_FILE,
  upperKind,
} from './shared-root/layer.js';
export {
  type BaseChange,
  type LayerOverride,
  layerOverrides,
  upperVolumePaths,
} from './shared-root/update.js';
export { encodeUbootScript, UBOOT_SCRIPT_NAME, ubootNetbootScript } from './uboot-script.js';
