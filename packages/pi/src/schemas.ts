import { z } from 'zod';
import { PiError } from './errors.js';
import { normaliseMac } from './mac.js';
import { normaliseSerial } from './serial.js';

/**
 * A zod schema from a normaliser: the issue carries the normaliser's message, and (unlike a failing
 * transform) it does not stop the enclosing object's own refinements, so every problem is listed.
 */
function normalised(normalise: (value: string) => string) {
  return z
    .string()
    .superRefine((value, ctx) => {
      try {
        normalise(value);
      } catch (error) {
        if (!(error instanceof PiError)) throw error;
        ctx.addIssue({ code: 'custom', message: error.message });
      }
    })
    .transform(normalise);
}

/** zod: a serial in any accepted form → 8 lowercase hex digits; the issue carries the one serial rule. */
export const SerialSchema = normalised(normaliseSerial);

/** zod: a MAC in any usual spelling → `dc:a6:32:01:36:c2`. */
export const MacSchema = normalised(normaliseMac);
