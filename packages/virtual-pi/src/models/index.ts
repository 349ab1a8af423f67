import { PI_MODELS, piModel } from '@bramble/pi';
import { VirtualPiError } from '../errors.js';
import { cm4 } from './cm4.js';
import { pi3b } from './pi3b.js';
import { pi3bplus } from './pi3bplus.js';
import { pi4 } from './pi4.js';
import { cm5, pi5, pi500 } from './pi5.js';
import { pi400 } from './pi400.js';
import type { ModelSpec, PiModel } from './types.js';

export const MODELS: Readonly<Record<PiModel, ModelSpec>> = {
  pi3b,
  'pi3b+': pi3bplus,
  pi4,
  pi400,
  cm4,
  pi5,
  pi500,
  cm5,
};

/** The models the simulator boots, in @bramble/pi's table order. */
export const SIMULATED_MODELS: readonly PiModel[] = PI_MODELS.filter(
  (name): name is PiModel => name in MODELS,
);

export function modelSpec(model: string): ModelSpec {
  const spec = (MODELS as Record<string, ModelSpec | undefined>)[model];
  if (spec) return spec;
  // A name outside the table gets the table's message; a known board without Ethernet is said so.
  let info: ReturnType<typeof piModel>;
  try {
    info = piModel(model);
  } catch (error) {
    throw new VirtualPiError('UNKNOWN_MODEL', (error as Error).message, { cause: error });
  }
  throw new VirtualPiError(
    'UNKNOWN_MODEL',
    `the ${info.name} has no on-board Ethernet and netboots only from bootcode.bin on an SD card, which is not simulated: use one of ${SIMULATED_MODELS.join(', ')}`,
  );
}
