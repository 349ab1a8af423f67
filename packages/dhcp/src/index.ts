/** @packageDocumentation @bramble/dhcp — DHCP codec, PXE / Raspberry Pi boot options, server configs, proxyDHCP. */

export { type Logger, silentLogger } from '@bramble/logger';
export {
  buildClientMessage,
  type ClientKind,
  type ClientMessageOptions,
  EEPROM_PARAMETER_LIST,
  PI3B_PARAMETER_LIST,
  PI3BPLUS_PARAMETER_LIST,
} from './client-message.js';
export {
  type BootNetwork,
  BootNetworkSchema,
  BootNodeSchema,
  parseBootNetwork,
  type ResolvedBootNetwork,
  usesTrailingSpaces,
} from './config/boot-network.js';
export { dnsmasqConfig } from './config/dnsmasq.js';
export { iscDhcpdConfig } from './config/isc.js';
export { keaConfig } from './config/kea.js';
export { raspberryPiBootTexts } from './config/read-boot-menu.js';
export {
  DhcpConfigError,
  DhcpDecodeError,
  DhcpEncodeError,
  DhcpError,
  type DhcpErrorCode,
} from './errors.js';
export {
  type ClientIdentifier,
  type ClientNdi,
  type ClientUuid,
  DhcpMessageType,
  type DhcpMessageTypeValue,
  getOption,
  OptionCode,
  type OptionCodec,
  Options,
  optionCodec,
  optionName,
  type RelayAgentInfo,
  setOption,
} from './options/index.js';
export {
  BROADCAST_FLAG,
  chaddrFromMac,
  type DhcpMessage,
  decodeMessage,
  type EncodeOptions,
  emptyMessage,
  encodeMessage,
  encodingLength,
  MAGIC_COOKIE,
  macOf,
} from './packet.js';
export {
  type BadPacketEvent,
  createProxyDhcp,
  type ProxyClient,
  type ProxyDecision,
  ProxyDhcp,
  type ProxyDhcpEvents,
  type ProxyOptions,
  ProxyOptionsSchema,
  type ProxyReplyEvent,
  type ProxyStats,
  type RefusedReplyEvent,
} from './proxy.js';
export {
  decodePxeVendorOptions,
  encodePxeVendorOptions,
  type PxeBootItem,
  type PxeBootServer,
  type PxeMenuItem,
  type PxeMenuPrompt,
  PxeSubOption,
  type PxeVendorOptions,
} from './pxe.js';
export {
  decodePiGuid,
  detectRaspberryPi,
  encodePiGuid,
  isPiBootVendorClass,
  isRaspberryPiMac,
  legacySerialGuid,
  PI_BOOT_MENU_TEXT,
  PI_VENDOR_CLASS,
  PI3_ROM_GUID,
  PI3_ROM_XID,
  type PiGuid,
  RASPBERRY_PI_MAC_PREFIXES,
  type RaspberryPiClient,
  type RaspberryPiModel,
  raspberryPiBootOptions,
  raspberryPiOption43,
} from './raspberry-pi.js';
export {
  type Ipv4Subnet,
  inSubnet,
  parseSubnet,
  type ReplyPolicy,
  type ReplyTarget,
  replyTarget,
  subnetsOf,
} from './reply-policy.js';
