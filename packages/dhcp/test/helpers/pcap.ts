/** Minimal pcap writer: each DHCP payload wrapped in Ethernet / IPv4 / UDP so tshark can dissect it. */
import { writeFileSync } from 'node:fs';

function ipChecksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface PcapPacket {
  payload: Buffer;
  srcPort?: number;
  dstPort?: number;
  srcIp?: string;
  dstIp?: string;
}

function frame(p: PcapPacket): Buffer {
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(p.srcPort ?? 68, 0);
  udp.writeUInt16BE(p.dstPort ?? 67, 2);
  udp.writeUInt16BE(8 + p.payload.length, 4);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + p.payload.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from((p.srcIp ?? '0.0.0.0').split('.').map(Number)).copy(ip, 12);
  Buffer.from((p.dstIp ?? '255.255.255.255').split('.').map(Number)).copy(ip, 16);
  ip.writeUInt16BE(ipChecksum(ip), 10);
  const eth = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
  return Buffer.concat([eth, ip, udp, p.payload]);
}

/** Write `packets` to a pcap file (LINKTYPE_ETHERNET). */
export function writePcap(path: string, packets: PcapPacket[]): void {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  const parts: Buffer[] = [header];
  packets.forEach((p, i) => {
    const f = frame(p);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1_700_000_000 + i, 0);
    rec.writeUInt32LE(f.length, 8);
    rec.writeUInt32LE(f.length, 12);
    parts.push(rec, f);
  });
  writeFileSync(path, Buffer.concat(parts));
}
