import { type DhcpMessage, decodePxeVendorOptions } from '@bramble/dhcp';
import { OPT } from './dhcp-messages.js';
import type { OfferVerdict } from './offer-rules.js';
import type { SeenOffer } from './report.js';

/** At most this many offers are kept per boot: a hostile LAN must not grow the report without bound. */
export const MAX_SEEN_OFFERS = 32;

/** Printable text of option 43: the PXE boot menu items (RFC 4578 / PXE 2.1 sub-option 9), else its ASCII. */
export function option43Text(o43: Buffer): string | undefined {
  try {
    const menu = decodePxeVendorOptions(o43).bootMenu;
    if (menu?.length) return menu.map((item) => item.description).join(' | ');
  } catch {
    // Not PXE-encapsulated: fall back to the printable bytes.
  }
  const text = o43
    .toString('latin1')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim();
  return text.length > 0 ? text : undefined;
}

function text(buf: Buffer | undefined): string | undefined {
  return buf ? buf.toString('latin1').replace(/\0+$/, '') : undefined;
}

/** What the report says about one received OFFER (RFC 2131 §2 header fields, RFC 2132 options 43/60/66). */
export function describeOffer(
  msg: DhcpMessage,
  source: string,
  verdict: OfferVerdict,
  atMs: number,
): SeenOffer {
  const o43 = msg.options.get(OPT.VENDOR_SPECIFIC);
  const seen: SeenOffer = {
    server: verdict.serverId ?? source,
    source,
    yiaddr: msg.yiaddr,
    siaddr: msg.siaddr,
    accepted: verdict.accepted,
    atMs,
  };
  if (o43) {
    seen.option43 = o43.toString('hex');
    const printable = option43Text(o43);
    if (printable !== undefined) seen.option43Text = printable;
  }
  const vendorClass = text(msg.options.get(OPT.VENDOR_CLASS));
  if (vendorClass !== undefined) seen.vendorClass = vendorClass;
  const option66 = text(msg.options.get(OPT.TFTP_SERVER));
  if (option66 !== undefined) seen.option66 = option66;
  if (verdict.tftpServer) seen.tftpServer = verdict.tftpServer;
  if (verdict.tftpServerFrom) seen.tftpServerFrom = verdict.tftpServerFrom;
  if (verdict.reason) seen.reason = verdict.reason;
  return seen;
}
