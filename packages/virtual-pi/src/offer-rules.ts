import type { DhcpMessage } from '@bramble/dhcp';
import { isIPv4 } from '@bramble/pi';
import { ipv4, OPT } from './dhcp-messages.js';
import type { DhcpProfile } from './models/types.js';
import type { DhcpSummary } from './report.js';

export interface OfferVerdict {
  accepted: boolean;
  reason?: string;
  tftpServer?: string;
  tftpServerFrom?: DhcpSummary['tftpServerFrom'];
  serverId?: string;
}

/**
 * The ROM's acceptance rules for one OFFER (boot-net.adoc; firmware#670, #801, #941; nobodd):
 * option 43 must contain "Raspberry Pi Boot" (Pi 3B: followed by three spaces); the TFTP server is option 66
 * (a dotted quad, no DNS in the ROM), else option 54; siaddr is ignored.
 */
export function judgeOffer(p: DhcpProfile, msg: DhcpMessage, source: string): OfferVerdict {
  const serverId = ipv4(msg.options.get(OPT.SERVER_ID));
  const base = serverId ? { serverId } : {};
  const o43 = msg.options.get(OPT.VENDOR_SPECIFIC);
  const text = o43 ? o43.toString('latin1') : '';
  if (!text.includes(p.option43Match)) {
    return {
      ...base,
      accepted: false,
      reason: o43 ? `option 43 lacks '${p.option43Match}'` : 'no option 43',
    };
  }
  if (p.option43NeedsTrailingSpaces && !text.includes(`${p.option43Match}   `)) {
    return {
      ...base,
      accepted: false,
      reason: `option 43 has '${p.option43Match}' without the three trailing spaces the Pi 3B ROM needs`,
    };
  }
  const o66 = msg.options.get(OPT.TFTP_SERVER);
  if (o66) {
    const name = o66.toString('latin1').replace(/\0+$/, '').trim();
    if (!isIPv4(name)) {
      return {
        ...base,
        accepted: false,
        reason: `option 66 '${name}' is not an IPv4 address (the ROM has no DNS)`,
      };
    }
    return { ...base, accepted: true, tftpServer: name, tftpServerFrom: 'option 66' };
  }
  if (serverId) return { ...base, accepted: true, tftpServer: serverId, tftpServerFrom: 'option 54' };
  return { accepted: true, tftpServer: source, tftpServerFrom: 'packet source' };
}
