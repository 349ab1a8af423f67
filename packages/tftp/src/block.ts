/**
 * Block numbering. TFTP block numbers are 16 bits (RFC 1350 §5); transfers of more than 65535 blocks
 * need a rollover convention (no RFC; tftp-hpa's `rollover` option, dnsmasq and most clients wrap to 0).
 * Internally every transfer counts blocks with a logical number that never wraps.
 */

/** Wire block number of logical block `n` when the counter rolls over to `to` after 65535. */
export function wireBlock(n: number, to: 0 | 1): number {
  if (n <= 0xffff) return n;
  if (to === 0) return n & 0xffff;
  return ((n - 0x10000) % 0xffff) + 1;
}

/** Largest logical block that fits without rolling over. */
export const MAX_UNWRAPPED_BLOCK = 0xffff;
