/**
 * The exact DHCP requests network-boot clients send, for simulators (virtual Pis) and tests.
 * Option order and contents follow the captures in the Raspberry Pi documentation and rpi-eeprom issues.
 */

import { isSerial, normaliseSerial, PI_MODEL_TABLE, type PiModelName, SERIAL_RULE } from '@bramble/pi';
import { DhcpEncodeError } from './errors.js';
import { ipv4ToBuffer } from './ipv4.js';
import { DhcpMessageType, OptionCode, Options } from './options/index.js';
import { BROADCAST_FLAG, chaddrFromMac, type DhcpMessage, emptyMessage } from './packet.js';
import {
  encodePiGuid,
  legacySerialGuid,
  PI_VENDOR_CLASS,
  PI3_ROM_GUID,
  PI3_ROM_XID,
} from './raspberry-pi.js';

/** The boot clients modelled: @bramble/pi model names (the ROM/EEPROM of that board), or a PXE PC. */
export type ClientKind = Extract<PiModelName, 'pi3b' | 'pi3b+' | 'pi4' | 'pi5'> | 'pxe-pc';

export interface ClientMessageOptions {
  kind: ClientKind;
  type: 'discover' | 'request';
  mac: string;
  /** The Pi's serial (@bramble/pi SERIAL_RULE); required for pi3b+, pi4 and pi5. */
  serial?: string;
  /** Pi 4/5 board revision code (default: the model table's typical board). */
  boardRevision?: number;
  /** Default: PI3_ROM_XID for the Pi 3 family, else derived from the MAC. */
  xid?: number;
  /** REQUEST: option 50. */
  requestedAddress?: string;
  /** REQUEST: option 54 (the server whose offer was chosen). */
  serverId?: string;
  /** REQUEST from a client that already has an address (e.g. PXE boot server request on port 4011). */
  ciaddr?: string;
  /** Pi 4 EEPROM `DHCP_OPTION97=0`: legacy serial×4 GUID instead of RPi4+rev+MAC+serial. */
  legacyGuid?: boolean;
}

const PXE_VENDOR_OPTIONS = [128, 129, 130, 131, 132, 133, 134, 135] as const;
/** Option 55 of the Pi 3B ROM, 12 entries (boot-net.adoc capture). */
export const PI3B_PARAMETER_LIST: readonly number[] = [43, 60, 67, ...PXE_VENDOR_OPTIONS, 66];
/** Option 55 of the Pi 3B+ ROM, 14 entries: adds 1 and 3 (firmware#871 tcpdump). */
export const PI3BPLUS_PARAMETER_LIST: readonly number[] = [1, 3, 43, 60, 67, ...PXE_VENDOR_OPTIONS, 66];
/** Option 55 of the Pi 4/5 EEPROM bootloader (cmprovision#5, wol.ski Pi 5 capture). */
export const EEPROM_PARAMETER_LIST: readonly number[] = [1, 3, 43, 60, 66, 67, ...PXE_VENDOR_OPTIONS];
const PC_PARAMS = [
  1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128,
  129, 130, 131, 132, 133, 134, 135,
];
const PC_VENDOR_CLASS = 'PXEClient:Arch:00007:UNDI:003016';

function needSerial(options: ClientMessageOptions): string {
  if (options.serial === undefined || !isSerial(options.serial)) {
    throw new DhcpEncodeError(`a ${options.kind} client message needs serial (${SERIAL_RULE})`);
  }
  return normaliseSerial(options.serial);
}

function guidFor(options: ClientMessageOptions): Buffer {
  switch (options.kind) {
    case 'pi3b':
      return PI3_ROM_GUID;
    case 'pi3b+':
      return legacySerialGuid(needSerial(options));
    case 'pi4':
    case 'pi5': {
      const serial = needSerial(options);
      if (options.legacyGuid) return legacySerialGuid(serial);
      const boardRevision = options.boardRevision ?? PI_MODEL_TABLE[options.kind].boardRevision;
      return encodePiGuid({ model: options.kind, boardRevision, mac: options.mac, serial });
    }
    case 'pxe-pc': {
      const guid = Buffer.alloc(16);
      chaddrFromMac(options.mac).copy(guid, 10, 0, 6);
      guid.write('bramble-pc', 0, 'latin1');
      return guid;
    }
  }
}

/**
 * Build the DISCOVER or REQUEST a given boot client sends. Pi 3 family: xid 0x26f30339, flags 0,
 * options 53, 55, 93 (0), 94 (1.2.1), 97, 60. Pi 4/5 REQUEST carries no option 60. A PXE PC
 * (x64 UEFI) sets the broadcast flag and sends option 57.
 */
export function buildClientMessage(options: ClientMessageOptions): DhcpMessage {
  const msg = emptyMessage(1);
  msg.chaddr = chaddrFromMac(options.mac);
  const isPi3 = options.kind === 'pi3b' || options.kind === 'pi3b+';
  msg.xid = options.xid ?? (isPi3 ? PI3_ROM_XID : msg.chaddr.readUInt32BE(2));
  if (options.kind === 'pxe-pc') msg.flags = BROADCAST_FLAG;
  if (options.ciaddr) msg.ciaddr = options.ciaddr;
  const opts = msg.options;
  opts.set(
    OptionCode.MESSAGE_TYPE,
    Buffer.from([options.type === 'discover' ? DhcpMessageType.DISCOVER : DhcpMessageType.REQUEST]),
  );
  if (options.kind === 'pxe-pc') opts.set(OptionCode.MAX_MESSAGE_SIZE, Options.maxMessageSize.encode(1472));
  if (options.type === 'request') {
    if (options.requestedAddress)
      opts.set(OptionCode.REQUESTED_ADDRESS, ipv4ToBuffer(options.requestedAddress));
    if (options.serverId) opts.set(OptionCode.SERVER_ID, ipv4ToBuffer(options.serverId));
  }
  const params =
    options.kind === 'pi3b'
      ? PI3B_PARAMETER_LIST
      : options.kind === 'pi3b+'
        ? PI3BPLUS_PARAMETER_LIST
        : options.kind === 'pxe-pc'
          ? PC_PARAMS
          : EEPROM_PARAMETER_LIST;
  opts.set(OptionCode.PARAMETER_LIST, Buffer.from(params));
  opts.set(OptionCode.CLIENT_ARCH, Options.clientArch.encode([options.kind === 'pxe-pc' ? 7 : 0]));
  opts.set(
    OptionCode.CLIENT_NDI,
    Options.clientNdi.encode(
      options.kind === 'pxe-pc' ? { type: 1, major: 3, minor: 16 } : { type: 1, major: 2, minor: 1 },
    ),
  );
  opts.set(OptionCode.CLIENT_UUID, Options.clientUuid.encode({ type: 0, guid: guidFor(options) }));
  const piRequest = options.type === 'request' && (options.kind === 'pi4' || options.kind === 'pi5');
  if (!piRequest) {
    opts.set(
      OptionCode.VENDOR_CLASS_ID,
      Buffer.from(options.kind === 'pxe-pc' ? PC_VENDOR_CLASS : PI_VENDOR_CLASS, 'latin1'),
    );
  }
  return msg;
}
