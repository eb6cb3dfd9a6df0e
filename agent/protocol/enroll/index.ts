/**
 * The enrollment contract the boot agent, the agent, layers/ and the coordinator share:
 * the enrollment API's routes and schemas (enroll-api.ts) and the signing and offline
 * verification of what the cluster key signs — certificates, rosters, image manifests
 * (certificate.ts). Import from here; the files behind it are its parts.
 */
export * from './enroll-api.js'
export { canonicalJson, signCertificate, signManifest, signRoster, verifyCertificate, verifyManifest, verifyRoster, type Verified, type VerifyFailure } from './certificate.js'
