/** Boot related options: RFC 2132 §9.4-9.5, RFC 3004, RFC 4578. */
import { DhcpEncodeError } from '../errors.js';
import { badOption, type OptionCodec, textOption, uint16ListOption } from './codec.js';

/** RFC 2132 §9.4 TFTP server name (66). Raspberry Pis expect a dotted quad without a trailing NUL. */
export const tftpServerName = textOption(66, 'tftp-server-name');
/** RFC 2132 §9.5 Bootfile name (67). */
export const bootfileName = textOption(67, 'bootfile-name');

/** RFC 3004 §4 User Class (77): a list of length-prefixed class instances (each 1..255 bytes). */
export const userClass: OptionCodec<Buffer[]> = {
  code: 77,
  name: 'user-class',
  encode(v) {
    const parts: Buffer[] = [];
    for (const c of v) {
      if (c.length < 1 || c.length > 255)
        throw new DhcpEncodeError('option 77 class instances are 1..255 bytes');
      parts.push(Buffer.from([c.length]), c);
    }
    return Buffer.concat(parts);
  },
  decode(d) {
    const out: Buffer[] = [];
    let p = 0;
    while (p < d.length) {
      const n = d[p] as number;
      if (n === 0 || p + 1 + n > d.length) throw badOption('user-class', 77, `bad class length ${n} at ${p}`);
      out.push(Buffer.from(d.subarray(p + 1, p + 1 + n)));
      p += 1 + n;
    }
    return out;
  },
};

/** RFC 4578 §2.1 Client System Architecture Type (93): list of 16-bit types (0 = x86 BIOS, 7 = x64 UEFI, 11 = ARM64 UEFI…). */
export const clientArch = uint16ListOption(93, 'client-arch');

/** RFC 4578 §2.2 Client Network Interface Identifier (94): type 1 (UNDI) + major + minor. */
export interface ClientNdi {
  type: number;
  major: number;
  minor: number;
}
export const clientNdi: OptionCodec<ClientNdi> = {
  code: 94,
  name: 'client-ndi',
  encode(v) {
    for (const x of [v.type, v.major, v.minor]) {
      if (!Number.isInteger(x) || x < 0 || x > 255) throw new DhcpEncodeError('option 94 fields are 0..255');
    }
    return Buffer.from([v.type, v.major, v.minor]);
  },
  decode(d) {
    if (d.length !== 3) throw badOption('client-ndi', 94, `expected 3 bytes, got ${d.length}`);
    return { type: d[0] as number, major: d[1] as number, minor: d[2] as number };
  },
};

/** RFC 4578 §2.3 Client Machine Identifier (97): type 0 + 16-byte GUID. */
export interface ClientUuid {
  type: number;
  guid: Buffer;
}
export const clientUuid: OptionCodec<ClientUuid> = {
  code: 97,
  name: 'client-uuid',
  encode(v) {
    if (v.guid.length !== 16)
      throw new DhcpEncodeError(`option 97 GUID must be 16 bytes, got ${v.guid.length}`);
    return Buffer.concat([Buffer.from([v.type & 0xff]), v.guid]);
  },
  decode(d) {
    if (d.length !== 17) throw badOption('client-uuid', 97, `expected 17 bytes, got ${d.length}`);
    return { type: d[0] as number, guid: Buffer.from(d.subarray(1)) };
  },
};
