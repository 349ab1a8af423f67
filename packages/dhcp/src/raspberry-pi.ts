/**
 * Raspberry Pi network boot: the reply options the boot ROM / EEPROM bootloader needs, and client detection.
 * Facts: Raspberry Pi documentation boot-net.adoc, rpi-eeprom release notes (see /shared/reference/pi-netboot.md).
 */
import {
  isRaspberryPiMac,
  macBytes,
  modelFromBoardRevision,
  modelsOfFamily,
  PI_BOOT_MENU_TEXT,
  PI_BOOT_MENU_TEXT_PADDED,
  PI_MODEL_TABLE,
  type PiModelName,
  RASPBERRY_PI_OUIS,
  serialNumber,
} from '@bramble/pi';
import { ipv4ToBuffer } from './ipv4.js';
import { OptionCode, Options } from './options/index.js';
import { type DhcpMessage, macOf } from './packet.js';
import { encodePxeVendorOptions } from './pxe.js';

/** Raspberry Pi OUIs: @bramble/pi's list, under the name this package has always exported. */
export const RASPBERRY_PI_MAC_PREFIXES: readonly string[] = RASPBERRY_PI_OUIS;
export { isRaspberryPiMac, PI_BOOT_MENU_TEXT };

/**
 * MAC prefixes of Pi 3-family boards (the @bramble/pi model table). Their boot ROM takes the first
 * offer it sees, so replies to them are delayed until the address offer has reached them.
 */
export const PI3_FAMILY_OUIS: readonly string[] = [
  ...new Set(modelsOfFamily('pi3').map((name) => PI_MODEL_TABLE[name].oui)),
];

/** Option 60 every Pi netboot client sends in DISCOVER (it is also the x86 BIOS PXE UNDI 2.1 string). */
export const PI_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001';
/** Transaction id the Pi 3 family boot ROM uses for every Pi: key clients by MAC, never by xid. */
export const PI3_ROM_XID = 0x26f30339;
/** A detected client: a @bramble/pi model name, or 'unknown' when only its MAC says it is a Pi. */
export type RaspberryPiModel = PiModelName | 'unknown';

export interface RaspberryPiClient {
  model: RaspberryPiModel;
  /** 8 lowercase hex digits (the TFTP prefix directory), when the client revealed it. */
  serial?: string;
  /** Board revision code from option 97 (Pi 4/5), e.g. 0xc03111. */
  boardRevision?: number;
  mac: string;
}

/**
 * Option 43 as dnsmasq writes it for `pxe-service=0,"Raspberry Pi Boot"`:
 * `06 01 03 | 0a 04 00 50 58 45 | 09 14 00 00 11 "Raspberry Pi Boot" | ff`.
 * `trailingSpaces` appends the three spaces the Pi 3B (BCM2837A0) ROM needs.
 */
export function raspberryPiOption43(trailingSpaces = false): Buffer {
  return encodePxeVendorOptions({
    discoveryControl: 3, // disable broadcast + multicast discovery, as dnsmasq
    menuPrompt: { timeout: 0, prompt: 'PXE' },
    bootMenu: [{ type: 0, description: trailingSpaces ? PI_BOOT_MENU_TEXT_PADDED : PI_BOOT_MENU_TEXT }],
  });
}

/**
 * Options a DHCP/proxyDHCP reply must carry for a Pi to network boot: 54 server id, 60 "PXEClient",
 * 66 TFTP server (dotted quad, no NUL: the Pi 3 ROM ignores siaddr and reads 66) and 43, in that order,
 * plus the siaddr to put in the header (Pi 4/5 use 66 or the server id).
 */
export function raspberryPiBootOptions(opts: { serverAddress: string; trailingSpaces?: boolean }): {
  options: Map<number, Buffer>;
  siaddr: string;
} {
  const options = new Map<number, Buffer>();
  options.set(OptionCode.SERVER_ID, ipv4ToBuffer(opts.serverAddress));
  options.set(OptionCode.VENDOR_CLASS_ID, Buffer.from('PXEClient', 'latin1'));
  options.set(OptionCode.TFTP_SERVER_NAME, Options.tftpServerName.encode(opts.serverAddress));
  options.set(OptionCode.VENDOR_SPECIFIC, raspberryPiOption43(opts.trailingSpaces ?? false));
  return { options, siaddr: opts.serverAddress };
}

/** Pi 4/5 option 97 GUID fields (EEPROM default `DHCP_OPTION97`): FourCC, board revision, MAC LSBs, serial. */
export interface PiGuid {
  model: 'pi4' | 'pi5';
  boardRevision: number;
  macTail: Buffer;
  serial: string;
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/**
 * Decode a Pi 4/5 option 97 GUID. The FourCC is 0x34695052 / 0x35695052 little-endian ("RPi4"/"RPi5" on
 * the wire; the byte-reversed form seen in one capture is accepted too). Board revision and serial are
 * read little-endian (inferred from a CM4 capture whose revision bytes were `41 31 a0 00` = 0xa03141).
 */
export function decodePiGuid(guid: Buffer): PiGuid | undefined {
  if (guid.length !== 16) return undefined;
  const tag = guid.subarray(0, 4).toString('latin1');
  const model =
    tag === 'RPi4' || tag === '4iPR' ? 'pi4' : tag === 'RPi5' || tag === '5iPR' ? 'pi5' : undefined;
  if (!model) return undefined;
  return {
    model,
    boardRevision: guid.readUInt32LE(4),
    macTail: Buffer.from(guid.subarray(8, 12)),
    serial: hex8(guid.readUInt32LE(12)),
  };
}

/** Encode a Pi 4/5 option 97 GUID (16 bytes, without the type byte). */
export function encodePiGuid(g: {
  model: 'pi4' | 'pi5';
  boardRevision: number;
  mac: string;
  serial: string;
}): Buffer {
  const out = Buffer.alloc(16);
  out.write(g.model === 'pi4' ? 'RPi4' : 'RPi5', 0, 'latin1');
  out.writeUInt32LE(g.boardRevision >>> 0, 4);
  macBytes(g.mac).copy(out, 8, 2, 6);
  out.writeUInt32LE(serialNumber(g.serial), 12);
  return out;
}

/** Pi 3B ROM constant GUID: 16 × 0x44. */
export const PI3_ROM_GUID = Buffer.alloc(16, 0x44);

/** Pi 3B+ (and Pi 4 with DHCP_OPTION97=0): the 32-bit serial repeated four times (little-endian assumed). */
export function legacySerialGuid(serial: string): Buffer {
  const out = Buffer.alloc(16);
  const n = serialNumber(serial);
  for (let i = 0; i < 4; i++) out.writeUInt32LE(n, i * 4);
  return out;
}

function repeatedSerial(g: Buffer): string | undefined {
  if (g.length !== 16) return undefined;
  const first = g.subarray(0, 4);
  for (let i = 4; i < 16; i += 4) if (!g.subarray(i, i + 4).equals(first)) return undefined;
  if (first.readUInt32LE(0) === 0 || g.equals(PI3_ROM_GUID)) return undefined;
  return hex8(first.readUInt32LE(0));
}

/** The exact model from the GUID's board revision when it is of the FourCC's family, else the family's base. */
function guidModel(g: PiGuid): PiModelName {
  const byRevision = modelFromBoardRevision(g.boardRevision);
  return byRevision !== undefined && PI_MODEL_TABLE[byRevision].family === g.model ? byRevision : g.model;
}

function safeText(msg: DhcpMessage, code: number): string | undefined {
  return msg.options.get(code)?.toString('latin1');
}

/**
 * Is `vendor` (option 60) the Pi boot ROM's / EEPROM bootloader's? Every Pi netboot client sends the PXE 2.1
 * vendor class `PXEClient:Arch:00000:UNDI:002001` in its DISCOVER (Raspberry Pi documentation boot-net.adoc;
 * the arch field is the RFC 4578 §2.1 client system architecture, 0 "Intel x86PC", as option 93 also says).
 * The Linux booted on the node asks from the same MAC without it (dhclient and systemd-networkd send no
 * option 60, busybox udhcpc sends "udhcp 1.x"), and U-Boot sends its own arch (RFC 4578 §2.1 / IANA 0x15,
 * 0x16 for ARM U-Boot): neither is the Pi boot firmware, so a Pi MAC alone never makes a boot client.
 */
export function isPiBootVendorClass(vendor: string | undefined): boolean {
  return vendor === PI_VENDOR_CLASS;
}

/**
 * Recognise a Raspberry Pi network-boot client (its boot ROM or EEPROM bootloader) from option 97, the MAC
 * prefix and option 60. Returns undefined for anything that is not a Pi boot client, including a Pi's own
 * Linux or U-Boot asking for an address from a Pi MAC. Never throws on odd options.
 */
export function detectRaspberryPi(msg: DhcpMessage): RaspberryPiClient | undefined {
  const mac = macOf(msg);
  const piMac = isRaspberryPiMac(mac);
  const vendor = safeText(msg, OptionCode.VENDOR_CLASS_ID);
  const raw97 = msg.options.get(OptionCode.CLIENT_UUID);
  const guid = raw97 && raw97.length === 17 && raw97[0] === 0 ? raw97.subarray(1) : undefined;
  if (guid) {
    const g = decodePiGuid(guid);
    if (g) return { model: guidModel(g), serial: g.serial, boardRevision: g.boardRevision, mac };
    // The constant GUID is the Pi 3B ROM's bug, fixed in the 3B+ (boot-net.adoc "DHCP UUID constant").
    if (guid.equals(PI3_ROM_GUID) && (piMac || vendor === PI_VENDOR_CLASS)) return { model: 'pi3b', mac };
    const serial = repeatedSerial(guid);
    if (serial && (piMac || vendor === PI_VENDOR_CLASS)) {
      const m = mac.toLowerCase();
      // A serial GUID is the 3B+ ROM's fix (the 3B sends a constant); later boards send RPi4/RPi5 GUIDs.
      const pi3bPlus = m.startsWith(PI_MODEL_TABLE['pi3b+'].oui);
      const model: RaspberryPiModel = pi3bPlus ? 'pi3b+' : piMac ? 'pi4' : 'unknown';
      return { model, serial, mac };
    }
  }
  // No Pi GUID (the Pi 4/5 REQUEST is recognised by its RPi4/RPi5 GUID above, as it has no option 60):
  // only a DISCOVER with the boot firmware's vendor class is a boot client.
  if (piMac && isPiBootVendorClass(vendor)) return { model: 'unknown', mac };
  return undefined;
}
