/** DHCP extensions, RFC 2132 §9. */
import { DhcpEncodeError } from '../errors.js';
import {
  addressOption,
  badOption,
  bytesOption,
  type OptionCodec,
  textOption,
  uint8ListOption,
  uint8Option,
  uint16Option,
  uint32Option,
} from './codec.js';

/** RFC 2132 §9.1 Requested IP Address (50). */
export const requestedAddress = addressOption(50, 'requested-address');
/** RFC 2132 §9.2 IP Address Lease Time (51), seconds. */
export const leaseTime = uint32Option(51, 'lease-time');
/** RFC 2132 §9.3 Option Overload (52): 1 file, 2 sname, 3 both. Handled by the codec itself. */
export const overload = uint8Option(52, 'overload');
/** RFC 2132 §9.6 DHCP Message Type (53). */
export const messageType = uint8Option(53, 'message-type');
/** RFC 2132 §9.7 Server Identifier (54). */
export const serverId = addressOption(54, 'server-id');
/** RFC 2132 §9.8 Parameter Request List (55). */
export const parameterList = uint8ListOption(55, 'parameter-request-list');
/** RFC 2132 §9.9 Message (56). */
export const message = textOption(56, 'message');
/** RFC 2132 §9.10 Maximum DHCP Message Size (57); minimum legal value 576. */
export const maxMessageSize = uint16Option(57, 'max-message-size');
/** RFC 2132 §9.11 Renewal (T1) Time Value (58). */
export const renewalTime = uint32Option(58, 'renewal-time');
/** RFC 2132 §9.12 Rebinding (T2) Time Value (59). */
export const rebindingTime = uint32Option(59, 'rebinding-time');
/** RFC 2132 §9.13 Vendor class identifier (60), e.g. `PXEClient:Arch:00000:UNDI:002001`. */
export const vendorClassId = textOption(60, 'vendor-class-identifier');

export interface ClientIdentifier {
  /** Hardware type (1 = Ethernet) or 0 for a non-hardware identifier. */
  type: number;
  id: Buffer;
}
/** RFC 2132 §9.14 Client-identifier (61): type octet + identifier, minimum length 2. */
export const clientId: OptionCodec<ClientIdentifier> = {
  code: 61,
  name: 'client-identifier',
  encode(v) {
    if (!Number.isInteger(v.type) || v.type < 0 || v.type > 255) {
      throw new DhcpEncodeError('option 61 type must be 0..255');
    }
    return Buffer.concat([Buffer.from([v.type]), v.id]);
  },
  decode(d) {
    if (d.length < 2) throw badOption('client-identifier', 61, `minimum length is 2, got ${d.length}`);
    return { type: d[0] as number, id: Buffer.from(d.subarray(1)) };
  },
};

/** RFC 2132 §8.4 Vendor Specific Information (43), raw; see `decodePxeVendorOptions` for the PXE layout. */
export const vendorSpecific = bytesOption(43, 'vendor-specific');
