/**
 * @packageDocumentation
 * @bramble/pi — every Raspberry Pi and node fact in one place: the serial, MAC and IPv4 rules, the
 * model table (boot capabilities per model), the node's TFTP directory name, and the config.txt /
 * cmdline.txt parsers. Every other Bramble package imports these; none keeps its own copy.
 */
export {
  type Cmdline,
  cmdlineProblems,
  initramfsNfsProblems,
  type NfsRoot,
  parseCmdline,
  parseNfsRoot,
} from './cmdline.js';
export {
  CONFIG_TXT_LIMIT,
  type ConfigContext,
  type ConfigTxt,
  configIncludes,
  parseConfigTxt,
} from './config-txt.js';
export { type DefinedOnly, definedOnly } from './defined.js';
export { PiError, type PiErrorCode } from './errors.js';
export {
  Ipv4Schema,
  ipv4Bytes,
  ipv4InSubnet,
  ipv4ToNumber,
  isIPv4,
  netmaskToPrefix,
  numberToIPv4,
  parseIPv4Cidr,
  prefixToNetmask,
} from './ipv4.js';
export {
  isMac,
  isRaspberryPiMac,
  macBytes,
  macDirName,
  normaliseMac,
  pi3MacFromSerial,
  RASPBERRY_PI_OUIS,
} from './mac.js';
export {
  dhcpAttempts,
  isPiModelName,
  modelFromBoardRevision,
  modelFromDetected,
  modelsOfFamily,
  option43Text,
  PI_BOOT_MENU_TEXT,
  PI_BOOT_MENU_TEXT_PADDED,
  PI_MODEL_TABLE,
  PI_MODELS,
  type PiDhcpRetry,
  type PiFamily,
  type PiModelBoot,
  type PiModelFiles,
  type PiModelInfo,
  type PiModelName,
  piModel,
  piModelList,
  type TftpPrefixMode,
} from './models.js';
export { MacSchema, SerialSchema } from './schemas.js';
export { isSerial, normaliseSerial, SERIAL_RULE, serialNumber } from './serial.js';
export {
  familyFromFirstFile,
  parseTftpPath,
  type TftpDirSource,
  type TftpPath,
  tftpDirName,
} from './tftp-dir.js';
