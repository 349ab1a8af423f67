import { boardFacts, eepromUuid } from './common.js';
import { PI4_DHCP, pi4 } from './pi4.js';
import type { ModelSpec } from './types.js';

/** Compute Module 4 (board revision of the cmprovision#16 capture: a03141). */
export const cm4: ModelSpec = {
  ...pi4,
  model: 'cm4',
  ...boardFacts('cm4'),
  dhcp: { ...PI4_DHCP, uuid: eepromUuid('pi4', boardFacts('cm4').boardRevision) },
};
