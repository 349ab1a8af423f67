import { z } from 'zod';
import { normaliseMac } from './mac.js';
import { normaliseSerial } from './serial.js';

/** zod: a serial in any accepted form → 8 lowercase hex digits; the issue carries the one serial rule. */
export const SerialSchema = z.string().transform((value, ctx) => {
  try {
    return normaliseSerial(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** zod: a MAC in any usual spelling → `dc:a6:32:01:36:c2`. */
export const MacSchema = z.string().transform((value, ctx) => {
  try {
    return normaliseMac(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});
