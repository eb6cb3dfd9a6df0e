/**
 * Hardware identity: collectors that read /sys (no udev, works in the initramfs), the pure
 * `resolveIdentity(components, known)` that keeps a node's id across part swaps, and the
 * component digest that travels in the NodeRecord. See docs/identity.md.
 */
export { COMPONENT_KINDS, GROUP_WEIGHT, KIND_GROUP, KIND_WEIGHT, normalizeValue, type Component, type ComponentKind, type ComponentGroup } from './component.js'
export { junkReason, isJunkValue } from './junk-values.js'
export { hashComponent, capDigest, digestKind, MAX_DIGEST_ENTRIES } from './component-digest.js'
export { deriveNodeId, isValidNodeId, NODE_ID_PATTERN } from './node-id.js'
export {
  resolveIdentity,
  resolveDigest,
  screenComponents,
  scorePair,
  evidenceOf,
  FleetIndex,
  SAME_MACHINE_THRESHOLD,
  DEFAULT_MIN_MATCHES,
  DEFAULT_FLEET_COMMON_MIN_IDS,
  type KnownFingerprint,
  type ResolveOptions,
  type IdentityResult,
  type ComponentVerdict,
  type Candidate,
} from './resolve-identity.js'
export { readSysfsHardware, type SysfsHardware, type SysfsDisk, type SysfsNic, type SysfsDmi, type ReadSysfsOptions } from './read-sysfs.js'
export { componentsFromHardware } from './hardware-components.js'
export { collectComponents, fingerprintMachine, type CollectedComponents, type FingerprintReport, type FingerprintOptions } from './fingerprint-machine.js'
export { parseKnownFingerprints, knownFromRecords, KnownFingerprintFile } from './known-fingerprints.js'
export { parseMemoryDevice, parseProcessor, type MemoryDevice } from './smbios.js'
export { writeFakeSysfs, linkInFakeSysfs, type FakeSysfsOptions } from './fake-sysfs.js'
export { isRegisteredWwn } from './hardware-components.js'
export { meshFingerprints, mergeKnownFingerprints, parseMeshFingerprints, MeshFingerprint, MeshFingerprintList, type ParsedMeshFingerprints } from './mesh-fingerprints.js'
