/** RFC 3046 Relay Agent Information (82). */
import { DhcpEncodeError } from '../errors.js';
import { badOption, type OptionCodec } from './codec.js';

/** Sub-options in wire order: 1 = Agent Circuit ID, 2 = Agent Remote ID (RFC 3046 §2.0). */
export type RelayAgentInfo = Map<number, Buffer>;

export const relayAgentInfo: OptionCodec<RelayAgentInfo> = {
  code: 82,
  name: 'relay-agent-information',
  encode(v) {
    const parts: Buffer[] = [];
    for (const [code, data] of v) {
      if (!Number.isInteger(code) || code < 0 || code > 255 || data.length > 255) {
        throw new DhcpEncodeError('option 82 sub-options need a code 0..255 and at most 255 bytes');
      }
      parts.push(Buffer.from([code, data.length]), data);
    }
    return Buffer.concat(parts);
  },
  decode(d) {
    const out: RelayAgentInfo = new Map();
    let p = 0;
    while (p < d.length) {
      if (p + 2 > d.length) throw badOption('relay-agent-information', 82, `truncated sub-option at ${p}`);
      const code = d[p] as number;
      const n = d[p + 1] as number;
      if (p + 2 + n > d.length) throw badOption('relay-agent-information', 82, `sub-option ${code} overruns`);
      out.set(code, Buffer.from(d.subarray(p + 2, p + 2 + n)));
      p += 2 + n;
    }
    return out;
  },
};
