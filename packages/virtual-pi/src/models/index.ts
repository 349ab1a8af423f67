import { VirtualPiError } from '../errors.js';
import { cm4 } from './cm4.js';
import { pi3b } from './pi3b.js';
import { pi3bplus } from './pi3bplus.js';
import { pi4 } from './pi4.js';
import { pi5 } from './pi5.js';
import { pi400 } from './pi400.js';
import type { ModelSpec, PiModel } from './types.js';

export const MODELS: Readonly<Record<PiModel, ModelSpec>> = {
  pi3b,
  'pi3b+': pi3bplus,
  pi4,
  pi400,
  cm4,
  pi5,
};

export function modelSpec(model: string): ModelSpec {
  const spec = (MODELS as Record<string, ModelSpec | undefined>)[model];
  if (!spec) {
    throw new VirtualPiError(
      'UNKNOWN_MODEL',
      `unknown Pi model '${model}': expected one of ${Object.keys(MODELS).join(', ')}`,
    );
  }
  return spec;
}
