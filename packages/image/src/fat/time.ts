/**
 * FAT timestamps (FAT spec 1.03 section 6.4): local time with no zone, read here as UTC
 * (as Linux does with the default tz=UTC mount). Date: bits 15-9 year since 1980, 8-5 month,
 * 4-0 day. Time: bits 15-11 hours, 10-5 minutes, 4-0 seconds / 2. Creation time adds a
 * fine-resolution byte in 10 ms units (0-199). Invalid dates read as 1980-01-01.
 */
export function fatTimeNs(date: number, time: number, tenths = 0): bigint {
  const year = 1980 + (date >> 9);
  let month = (date >> 5) & 0x0f;
  let day = date & 0x1f;
  if (month < 1 || month > 12 || day < 1) {
    month = 1;
    day = 1;
  }
  const h = Math.min(time >> 11, 23);
  const m = Math.min((time >> 5) & 0x3f, 59);
  const s = Math.min((time & 0x1f) * 2, 58);
  const ms = Date.UTC(year, month - 1, day, h, m, s) + Math.min(tenths, 199) * 10;
  return BigInt(ms) * 1_000_000n;
}
