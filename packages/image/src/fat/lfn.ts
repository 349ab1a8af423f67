/**
 * VFAT long file names (FAT spec 1.03 section 7). An LFN entry (attribute 0x0F) holds 13 UCS-2
 * characters at offsets 1-10, 14-25 and 28-31; byte 0 is the sequence number (0x40 marks the last,
 * i.e. first stored, entry); byte 13 is the checksum of the 8.3 name it belongs to. Entries are
 * stored in reverse order right before their short entry. A name ends at 0x0000 (then 0xFFFF pad).
 */
export const ATTR_LFN = 0x0f;
const LAST_LFN = 0x40;

/** Checksum of the 11-byte 8.3 name (section 7.2): rotate right then add, modulo 256. */
export function shortNameChecksum(name11: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + (name11[i] as number)) & 0xff;
  return sum;
}

/** Accumulates LFN fragments; yields the long name only if the set is complete and consistent. */
export class LfnAccumulator {
  private parts: string[] = [];
  private expected = 0;
  private checksum = -1;

  reset(): void {
    this.parts = [];
    this.expected = 0;
    this.checksum = -1;
  }

  /** Feed one 32-byte LFN entry. */
  add(e: Buffer): void {
    const ord = e[0] as number;
    const seq = ord & 0x1f;
    const sum = e[13] as number;
    if (ord & LAST_LFN) {
      this.reset();
      if (seq === 0) return;
      this.expected = seq;
      this.checksum = sum;
    } else if (this.expected === 0 || seq !== this.expected || sum !== this.checksum) {
      // Out of sequence or from another name: drop what we have (as Linux vfat does).
      this.reset();
      return;
    }
    this.parts[seq - 1] = fragment(e);
    this.expected = seq - 1;
  }

  /** The long name for the short entry `name11`, or undefined when the LFN set does not belong to it. */
  take(name11: Uint8Array): string | undefined {
    const ok =
      this.checksum >= 0 &&
      this.expected === 0 &&
      this.parts.length > 0 &&
      shortNameChecksum(name11) === this.checksum;
    const name = ok ? this.parts.join('') : undefined;
    this.reset();
    return name && name.length > 0 ? name : undefined;
  }
}

function fragment(e: Buffer): string {
  const units = Buffer.concat([e.subarray(1, 11), e.subarray(14, 26), e.subarray(28, 32)]);
  let end = units.length;
  for (let i = 0; i < units.length; i += 2) {
    if (units.readUInt16LE(i) === 0) {
      end = i;
      break;
    }
  }
  return units.subarray(0, end).toString('utf16le');
}
