import { z } from 'zod';
import { Manifest } from './schema.js';

/** The manifest's JSON Schema (draft 2020-12), for editors: `bramble schema > bramble.schema.json`. */
export function manifestJsonSchema(): object {
  return z.toJSONSchema(Manifest, { io: 'input', unrepresentable: 'any' });
}
