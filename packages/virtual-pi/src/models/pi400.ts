import { boardFacts, eepromUuid } from './common.js';
import { PI4_DHCP, pi4 } from './pi4.js';
import type { ModelSpec } from './types.js';

/** Raspberry Pi 400: a Pi 4 in a keyboard, its own device tree. */
export const pi400: ModelSpec = {
  ...pi4,
  model: 'pi400',
  ...boardFacts('pi400'),
  dhcp: { ...PI4_DHCP, uuid: eepromUuid('pi4', boardFacts('pi400').boardRevision) },
};
