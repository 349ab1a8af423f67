/** Option registry: codes, names and typed codecs. */
import * as boot from './boot.js';
import type { OptionCodec } from './codec.js';
import * as lease from './lease.js';
import * as network from './network.js';
import * as relay from './relay.js';

export type { ClientNdi, ClientUuid } from './boot.js';
export { getOption, type OptionCodec, setOption } from './codec.js';
export type { ClientIdentifier } from './lease.js';
export type { RelayAgentInfo } from './relay.js';

/** Option codes (RFC 2132, RFC 3004, RFC 3046, RFC 4578). */
export const OptionCode = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST_ADDRESS: 28,
  VENDOR_SPECIFIC: 43,
  REQUESTED_ADDRESS: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS_ID: 60,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  BOOTFILE_NAME: 67,
  USER_CLASS: 77,
  RELAY_AGENT_INFO: 82,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_UUID: 97,
  END: 255,
} as const;

/** RFC 2132 §9.6 DHCP message types (option 53). */
export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageTypeValue = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

/** Typed codecs by name; use with `getOption(msg, Options.router)` / `setOption(...)`. */
export const Options = {
  ...network,
  ...lease,
  ...boot,
  ...relay,
} as const;

const byCode = new Map<number, OptionCodec<unknown>>();
for (const codec of Object.values(Options) as OptionCodec<unknown>[]) byCode.set(codec.code, codec);

/** The typed codec registered for `code`, if any (raw access always works through `msg.options`). */
export function optionCodec(code: number): OptionCodec<unknown> | undefined {
  return byCode.get(code);
}

/** A readable name for an option code (`option-<n>` for unregistered ones). */
export function optionName(code: number): string {
  return byCode.get(code)?.name ?? `option-${code}`;
}
