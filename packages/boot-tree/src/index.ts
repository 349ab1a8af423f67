/**
 * @bramble/boot-tree — per-node Raspberry Pi netboot trees: release-aware cmdline.txt / fstab /
 * config.txt patching, personalisation of NFS roots, and NFS exports (kernel, nfs-ganesha, compose).
 * @packageDocumentation
 */
export {
  type CheckOptions,
  type CheckProblem,
  type CheckTarget,
  checkNode,
  checkNodes,
  formatProblem,
} from './check.js';
export { type CloneMode, type CloneOptions, cloneTree } from './clone.js';
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
  macDirName,
  NFS_VERSIONS,
  type NfsVersion,
  NodeSpec,
  type NodeSpecInput,
  normaliseMac,
  normaliseSerial,
  PI_MODELS,
  type PiModelName,
  parseNodeSpec,
  tftpDirName,
} from './node-spec.js';
export { type CmdlineOptions, parseNfsRoot, patchCmdline } from './patch/cmdline.js';
export {
  CONFIG_TXT_MAX_BYTES,
  type ConfigTxtOptions,
  configValues,
  patchConfigTxt,
} from './patch/config-txt.js';
export { FSTAB_MARKER, type FstabOptions, patchFstab, sdCardLines } from './patch/fstab.js';
export { hostnameFile, patchHosts } from './patch/hosts.js';
export { writeAuthorizedKeys } from './personalise/authorized-keys.js';
export { type CloudInitSeed, cloudInitSeed, writeCloudInitSeed } from './personalise/cloud-init.js';
export { generateHostKeys, type HostKeyType } from './personalise/host-keys.js';
export { setHostname } from './personalise/hostname.js';
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
export { encodeUbootScript, UBOOT_SCRIPT_NAME, ubootNetbootScript } from './uboot-script.js';
