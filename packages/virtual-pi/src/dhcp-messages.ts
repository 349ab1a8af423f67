import { chaddrFromMac, type DhcpMessage, DhcpMessageType, emptyMessage, OptionCode } from '@bramble/dhcp';
import type { DhcpProfile, PiIdentity } from './models/types.js';

/** Option codes the virtual Pi reads or writes. */
export const OPT = {
  REQUESTED_IP: OptionCode.REQUESTED_ADDRESS, // RFC 2132 §9.1
  MESSAGE_TYPE: OptionCode.MESSAGE_TYPE, // RFC 2132 §9.6
  SERVER_ID: OptionCode.SERVER_ID, // RFC 2132 §9.7
  PARAMETER_LIST: OptionCode.PARAMETER_LIST, // RFC 2132 §9.8
  VENDOR_CLASS: OptionCode.VENDOR_CLASS_ID, // RFC 2132 §9.13
  VENDOR_SPECIFIC: OptionCode.VENDOR_SPECIFIC, // RFC 2132 §8.4
  TFTP_SERVER: OptionCode.TFTP_SERVER_NAME, // RFC 2132 §9.4
  CLIENT_ARCH: OptionCode.CLIENT_ARCH, // RFC 4578 §2.1
  CLIENT_NDI: OptionCode.CLIENT_NDI, // RFC 4578 §2.2
  CLIENT_UUID: OptionCode.CLIENT_UUID, // RFC 4578 §2.3
} as const;
/** RFC 2132 §9.6 message types. */
export const MSG = DhcpMessageType;

export function ipv4(buf: Buffer | undefined): string | undefined {
  return buf && buf.length >= 4 ? `${buf[0]}.${buf[1]}.${buf[2]}.${buf[3]}` : undefined;
}

export function ipBytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map((p) => Number(p)));
}

export function messageType(message: DhcpMessage): number | undefined {
  return message.options.get(OPT.MESSAGE_TYPE)?.[0];
}

function baseMessage(xid: number, mac: string): DhcpMessage {
  const message = emptyMessage(1);
  message.xid = xid;
  message.chaddr = chaddrFromMac(mac);
  message.flags = 0; // the ROM sends no broadcast flag ("flags [none]" in the boot-net.adoc capture)
  return message;
}

/** The model's DHCPDISCOVER, options in the order of the boot-net.adoc capture: 53, 55, 93, 94, 97, 60. */
export function buildDiscover(p: DhcpProfile, id: PiIdentity, xid: number): DhcpMessage {
  const message = baseMessage(xid, id.mac);
  message.options.set(OPT.MESSAGE_TYPE, Buffer.from([MSG.DISCOVER]));
  message.options.set(OPT.PARAMETER_LIST, Buffer.from(p.parameterList));
  message.options.set(OPT.CLIENT_ARCH, Buffer.from([p.clientArch >> 8, p.clientArch & 0xff]));
  message.options.set(OPT.CLIENT_NDI, Buffer.from(p.clientNdi));
  message.options.set(OPT.CLIENT_UUID, p.uuid(id));
  message.options.set(OPT.VENDOR_CLASS, Buffer.from(p.vendorClass, 'latin1'));
  return message;
}

/** Pi 4/5 DHCPREQUEST (RFC 2131 §4.3.2 SELECTING: 50 + 54), without option 60 (rpi-eeprom#82/#87). */
export function buildRequest(
  p: DhcpProfile,
  id: PiIdentity,
  xid: number,
  address: string,
  serverId: string,
): DhcpMessage {
  const message = baseMessage(xid, id.mac);
  message.options.set(OPT.MESSAGE_TYPE, Buffer.from([MSG.REQUEST]));
  message.options.set(OPT.REQUESTED_IP, ipBytes(address));
  message.options.set(OPT.SERVER_ID, ipBytes(serverId));
  message.options.set(OPT.PARAMETER_LIST, Buffer.from(p.parameterList));
  message.options.set(OPT.CLIENT_ARCH, Buffer.from([p.clientArch >> 8, p.clientArch & 0xff]));
  message.options.set(OPT.CLIENT_NDI, Buffer.from(p.clientNdi));
  message.options.set(OPT.CLIENT_UUID, p.uuid(id));
  if (p.requestHasVendorClass) message.options.set(OPT.VENDOR_CLASS, Buffer.from(p.vendorClass, 'latin1'));
  return message;
}
