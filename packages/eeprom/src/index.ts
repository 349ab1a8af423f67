/**
 * @bramble/eeprom — Raspberry Pi 4/400/CM4 and 5/500/CM5 bootloader EEPROM images: parse, read and
 * replace the embedded bootconf.txt (validated against the documented keys), write pieeprom.upd +
 * pieeprom.sig byte-identical to rpi-eeprom-config / rpi-eeprom-digest, the SD-card recovery layout,
 * and the files a node's TFTP directory needs for a network self-update.
 * @packageDocumentation
 */
export {
  BOOT_MODES,
  BOOTCONF_KEYS,
  type BootConfKey,
  type BootConfLine,
  BootConfSettings,
  bootConfProblems,
  effectiveSettings,
  isBootConfKey,
  parseBootConf,
  parseSetting,
  setBootConf,
  type ValidateOptions,
  validateBootConf,
} from './bootconf.js';
export { EepromError, type EepromErrorCode } from './errors.js';
export {
  MAX_RECOVERY_BIN,
  RECOVERY_BIN_NAME,
  type RecoveryOptions,
  readEepromImage,
  readSmallText,
  removeUpdateFiles,
  selfUpdateDisabledIn,
  UPDATE_IMAGE_NAME,
  UPDATE_SIG_NAME,
  type UpdateStatus,
  updateStatus,
  type WriteOptions,
  writeRecoveryFiles,
  writeUpdateFiles,
} from './files.js';
export { IMAGE_SIZE_2711, IMAGE_SIZE_2712, MAX_FILE_SIZE } from './format.js';
export {
  type Chip,
  chipOfSize,
  type EepromImage,
  type FileLocation,
  findFile,
  parseImage,
  readBootConf,
  readImageFile,
  type Section,
} from './image.js';
export { checkModelChip, checkTftpPrefix, modelChip, tftpPrefixSettings } from './node.js';
export { checkNetworkBoot, configTxtBlocksSelfUpdate, selfUpdateWarnings } from './self-update.js';
export {
  parseSignature,
  type Signature,
  type SignatureOptions,
  sha256Hex,
  signatureText,
  verifySignature,
} from './signature.js';
export { type BuildUpdateOptions, buildUpdate, nowSeconds, type UpdateFiles } from './update.js';
export { checkTimestamp, MAX_TIMESTAMP, replaceBootConf, replaceFile, setTimestamp } from './write.js';
