/**
 * PXE vendor options carried in option 43 (PXE specification 2.1 §2.4, "PXE vendor-encapsulated options"):
 * sub-option TLVs (code, length, data) terminated by an encapsulated END (255).
 *
 * | code | name                  | layout                                         |
 * | ---- | --------------------- | ---------------------------------------------- |
 * | 6    | PXE_DISCOVERY_CONTROL | 1 byte bit field (bit0 no broadcast, bit1 no multicast, bit2 only listed servers, bit3 use bootfile) |
 * | 8    | PXE_BOOT_SERVERS      | per server type: type(2) count(1) IPv4(4 × count) |
 * | 9    | PXE_BOOT_MENU         | per item: type(2) length(1) description        |
 * | 10   | PXE_MENU_PROMPT       | timeout(1) prompt                              |
 * | 71   | PXE_BOOT_ITEM         | type(2) layer(2)                               |
 */
import { DhcpDecodeError, DhcpEncodeError } from './errors.js';
import { ipv4ToBuffer, readIPv4 } from './ipv4.js';

export interface PxeBootServer {
  type: number;
  addresses: string[];
}
export interface PxeMenuItem {
  type: number;
  description: string;
}
export interface PxeMenuPrompt {
  /** Seconds; 0 = boot the first item at once, 255 = wait for the user. */
  timeout: number;
  prompt: string;
}
export interface PxeBootItem {
  type: number;
  layer: number;
}
export interface PxeVendorOptions {
  discoveryControl?: number;
  bootServers?: PxeBootServer[];
  bootMenu?: PxeMenuItem[];
  menuPrompt?: PxeMenuPrompt;
  bootItem?: PxeBootItem;
  /** Any other sub-option, raw, in wire order. */
  other?: Map<number, Buffer>;
}

export const PxeSubOption = {
  DISCOVERY_CONTROL: 6,
  BOOT_SERVERS: 8,
  BOOT_MENU: 9,
  MENU_PROMPT: 10,
  BOOT_ITEM: 71,
  END: 255,
} as const;

function u16(n: number, what: string): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff)
    throw new DhcpEncodeError(`${what} must be 0..65535, got ${n}`);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function latin1(s: string, what: string): Buffer {
  if (/[^\u0000-\u00ff]/.test(s)) throw new DhcpEncodeError(`${what} must be latin1 text`);
  return Buffer.from(s, 'latin1');
}

function tlv(code: number, data: Buffer): Buffer {
  if (data.length > 255)
    throw new DhcpEncodeError(`PXE sub-option ${code} is ${data.length} bytes; at most 255 fit`);
  return Buffer.concat([Buffer.from([code, data.length]), data]);
}

/**
 * Encode PXE sub-options in the order dnsmasq emits them (6, 10, 9, 8, 71, others) followed by the
 * encapsulated END, which counts towards option 43's length.
 */
export function encodePxeVendorOptions(vendorOptions: PxeVendorOptions): Buffer {
  const parts: Buffer[] = [];
  if (vendorOptions.discoveryControl !== undefined) {
    const v = vendorOptions.discoveryControl;
    if (!Number.isInteger(v) || v < 0 || v > 255)
      throw new DhcpEncodeError('discoveryControl must be 0..255');
    parts.push(tlv(PxeSubOption.DISCOVERY_CONTROL, Buffer.from([v])));
  }
  if (vendorOptions.menuPrompt !== undefined) {
    const t = vendorOptions.menuPrompt.timeout;
    if (!Number.isInteger(t) || t < 0 || t > 255)
      throw new DhcpEncodeError('menuPrompt.timeout must be 0..255');
    parts.push(
      tlv(
        PxeSubOption.MENU_PROMPT,
        Buffer.concat([Buffer.from([t]), latin1(vendorOptions.menuPrompt.prompt, 'menu prompt')]),
      ),
    );
  }
  if (vendorOptions.bootMenu !== undefined) {
    const items = vendorOptions.bootMenu.map((item) => {
      const d = latin1(item.description, 'menu description');
      if (d.length > 255) throw new DhcpEncodeError('a menu description holds at most 255 bytes');
      return Buffer.concat([u16(item.type, 'menu item type'), Buffer.from([d.length]), d]);
    });
    parts.push(tlv(PxeSubOption.BOOT_MENU, Buffer.concat(items)));
  }
  if (vendorOptions.bootServers !== undefined) {
    const entries = vendorOptions.bootServers.map((s) => {
      if (s.addresses.length > 255) throw new DhcpEncodeError('at most 255 addresses per boot server type');
      return Buffer.concat([
        u16(s.type, 'boot server type'),
        Buffer.from([s.addresses.length]),
        ...s.addresses.map(ipv4ToBuffer),
      ]);
    });
    parts.push(tlv(PxeSubOption.BOOT_SERVERS, Buffer.concat(entries)));
  }
  if (vendorOptions.bootItem !== undefined) {
    parts.push(
      tlv(
        PxeSubOption.BOOT_ITEM,
        Buffer.concat([
          u16(vendorOptions.bootItem.type, 'boot item type'),
          u16(vendorOptions.bootItem.layer, 'boot item layer'),
        ]),
      ),
    );
  }
  for (const [code, data] of vendorOptions.other ?? []) {
    if (!Number.isInteger(code) || code < 1 || code > 254)
      throw new DhcpEncodeError(`bad PXE sub-option code ${code}`);
    parts.push(tlv(code, data));
  }
  parts.push(Buffer.from([PxeSubOption.END]));
  return Buffer.concat(parts);
}

function bad(why: string): DhcpDecodeError {
  return new DhcpDecodeError('BAD_OPTION', `option 43 (PXE vendor options): ${why}`);
}

/** Decode PXE sub-options; throws {@link DhcpDecodeError} (code `BAD_OPTION`) on malformed TLVs. */
export function decodePxeVendorOptions(b: Uint8Array): PxeVendorOptions {
  const out: PxeVendorOptions = {};
  let p = 0;
  while (p < b.length) {
    const code = b[p] as number;
    if (code === 0) {
      p++;
      continue;
    }
    if (code === PxeSubOption.END) break;
    if (p + 2 > b.length) throw bad(`sub-option ${code} has no length byte`);
    const n = b[p + 1] as number;
    if (p + 2 + n > b.length) throw bad(`sub-option ${code} claims ${n} bytes, ${b.length - p - 2} remain`);
    const d = Buffer.from(b.subarray(p + 2, p + 2 + n));
    p += 2 + n;
    switch (code) {
      case PxeSubOption.DISCOVERY_CONTROL:
        if (n !== 1) throw bad(`discovery control must be 1 byte, got ${n}`);
        out.discoveryControl = d[0] as number;
        break;
      case PxeSubOption.MENU_PROMPT:
        if (n < 1) throw bad('menu prompt needs a timeout byte');
        out.menuPrompt = { timeout: d[0] as number, prompt: d.subarray(1).toString('latin1') };
        break;
      case PxeSubOption.BOOT_MENU: {
        const items: PxeMenuItem[] = [];
        let q = 0;
        while (q < d.length) {
          if (q + 3 > d.length) throw bad('truncated boot menu item');
          const len = d[q + 2] as number;
          if (q + 3 + len > d.length) throw bad('boot menu description overruns sub-option 9');
          items.push({
            type: d.readUInt16BE(q),
            description: d.subarray(q + 3, q + 3 + len).toString('latin1'),
          });
          q += 3 + len;
        }
        out.bootMenu = items;
        break;
      }
      case PxeSubOption.BOOT_SERVERS: {
        const servers: PxeBootServer[] = [];
        let q = 0;
        while (q < d.length) {
          if (q + 3 > d.length) throw bad('truncated boot server entry');
          const count = d[q + 2] as number;
          if (q + 3 + 4 * count > d.length) throw bad('boot server addresses overrun sub-option 8');
          const addresses: string[] = [];
          for (let i = 0; i < count; i++) addresses.push(readIPv4(d, q + 3 + 4 * i));
          servers.push({ type: d.readUInt16BE(q), addresses });
          q += 3 + 4 * count;
        }
        out.bootServers = servers;
        break;
      }
      case PxeSubOption.BOOT_ITEM:
        if (n !== 4) throw bad(`boot item must be 4 bytes, got ${n}`);
        out.bootItem = { type: d.readUInt16BE(0), layer: d.readUInt16BE(2) };
        break;
      default:
        out.other ??= new Map();
        out.other.set(code, d);
    }
  }
  return out;
}
