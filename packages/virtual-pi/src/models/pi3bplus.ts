import { boardFacts, option43Rule, PI3BPLUS_PARAMETER_LIST, pi3bplusUuid } from './common.js';
import { pi3b } from './pi3b.js';
import type { ModelSpec } from './types.js';

/** Pi 3 Model B+ (BCM2837B0): the 3B ROM with its bugs fixed — no trailing spaces, serial-based option 97. */
export const pi3bplus: ModelSpec = {
  ...pi3b,
  model: 'pi3b+',
  ...boardFacts('pi3b+'),
  dhcp: {
    ...pi3b.dhcp,
    parameterList: PI3BPLUS_PARAMETER_LIST,
    uuid: pi3bplusUuid,
    ...option43Rule('pi3b+'),
  },
};
