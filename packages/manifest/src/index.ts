/** @packageDocumentation @bramble/manifest — the cluster manifest (bramble.yaml) and the state directory's files. */
export { type DiscoveredFile, type DiscoveredPi, readDiscovered } from './discovered-file.js';
export { ManifestError, type ManifestProblem, ManifestTooLargeError } from './errors.js';
export { manifestJsonSchema } from './json-schema.js';
export {
  formatPath,
  type LoadedManifest,
  loadManifest,
  MAX_MANIFEST_BYTES,
  manifestHash,
  parseManifest,
  parseManifestText,
  readManifestText,
  resolveManifest,
} from './load.js';
export {
  DiscoverySettings,
  Ipv4,
  ListenAddress,
  Mac,
  Manifest,
  type ManifestInput,
  ManifestNode,
  ManifestUser,
  NfsVersion,
  PacingSettings,
  PiModelName,
  Serial,
  toNodeSpec,
} from './schema.js';
