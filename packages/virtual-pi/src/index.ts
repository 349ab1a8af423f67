/**
 * @packageDocumentation
 * @bramble/virtual-pi — simulates each Raspberry Pi model's network boot (DHCP + TFTP) against any server, and
 * says whether a real Pi would boot, or the first thing that would stop it.
 */

export type { Logger } from '@bramble/tftp';
export { bootVirtualPi, tftpPrefixFor } from './boot.js';
export { autoInitramfsName } from './boot-files.js';
export type { DhcpClientOptions } from './dhcp-client.js';
export { buildDiscover, buildRequest } from './dhcp-messages.js';
export * from './emulate/index.js';
export { VirtualPiError, type VirtualPiErrorCode } from './errors.js';
export { type FirmwareFileRoles, firmwareFileRoles } from './file-roles.js';
export { defaultMac } from './identity.js';
export { MODELS, modelSpec, SIMULATED_MODELS } from './models/index.js';
export type {
  DhcpProfile,
  ModelSpec,
  PiIdentity,
  PiModel,
  StepNeed,
  TftpProfile,
  TftpStep,
} from './models/types.js';
export { chooseInterface, defaultRouteInterfaces, type PiInterface } from './network-interface.js';
export { judgeOffer, type OfferVerdict } from './offer-rules.js';
export { type BootOptions, BootOptionsSchema, type DhcpTarget, DhcpTargetSchema } from './options.js';
export {
  type BootReport,
  type BootStep,
  type DhcpSummary,
  type FetchedFile,
  formatOffers,
  formatReport,
  type SeenOffer,
  type StepOutcome,
} from './report.js';
export { describeOffer, MAX_SEEN_OFFERS, option43Text } from './seen-offer.js';
export { bootStorm, type StormOptions, type StormReport, serialRange } from './storm.js';
