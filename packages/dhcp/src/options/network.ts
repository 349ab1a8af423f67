/** Basic network options, RFC 2132 §3. */
import { addressListOption, addressOption, textOption } from './codec.js';

/** RFC 2132 §3.3 Subnet Mask (1). */
export const subnetMask = addressOption(1, 'subnet-mask');
/** RFC 2132 §3.5 Router (3): list of addresses, most preferred first. */
export const router = addressListOption(3, 'router');
/** RFC 2132 §3.8 Domain Name Server (6). */
export const domainNameServer = addressListOption(6, 'domain-name-server');
/** RFC 2132 §3.14 Host Name (12). */
export const hostName = textOption(12, 'host-name');
/** RFC 2132 §3.17 Domain Name (15). */
export const domainName = textOption(15, 'domain-name');
/** RFC 2132 §5.3 Broadcast Address (28). */
export const broadcastAddress = addressOption(28, 'broadcast-address');
