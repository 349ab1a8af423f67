/**
 * A GUID as stored on disk (UEFI 2.10 appendix A: the first three fields little-endian, the last
 * two big-endian) to its canonical lowercase text form.
 */
export function guidToString(b: Buffer): string {
  const h = (s: number, e: number, le: boolean) => {
    const part = Buffer.from(b.subarray(s, e));
    if (le) part.reverse();
    return part.toString('hex');
  };
  return `${h(0, 4, true)}-${h(4, 6, true)}-${h(6, 8, true)}-${h(8, 10, false)}-${h(10, 16, false)}`;
}

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';
