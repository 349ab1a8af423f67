import { eepromUuid } from './common.js';
import { PI4_DHCP, pi4 } from './pi4.js';
import type { ModelSpec } from './types.js';

/** Compute Module 4 (board revision of the cmprovision#16 capture: a03141), OUI e4:5f:01. */
export const cm4: ModelSpec = {
  ...pi4,
  model: 'cm4',
  name: 'Raspberry Pi Compute Module 4',
  configFilters: ['pi4', 'cm4'],
  boardRevision: 0xa03141,
  oui: 'e4:5f:01',
  dhcp: { ...PI4_DHCP, uuid: eepromUuid('pi4', 0xa03141) },
  files: { ...pi4.files, dtb: 'bcm2711-rpi-cm4.dtb' },
};
