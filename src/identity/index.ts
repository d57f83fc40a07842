/**
 * `agent-mesh/identity`: the mesh's own certificate authority and what it works with. Issuing and renewing X.509
 * SVIDs, certificate directories (the CA, the trust bundle, one identity per name) and root rotation, trust
 * bundles and SVID verification, RSA keys, certificate facts, and the join tokens agents trade for a first
 * certificate. What `agent-mesh ca` and the control plane do, for tools that manage a mesh's identities.
 */

export {
  CertificateAuthority,
  createCertificateRequest,
  DEFAULT_CA_TTL_MS,
  DEFAULT_LEAF_TTL_MS,
} from './certificate-authority.js';
export type {
  Clock,
  CreateCaOptions,
  IssuedIdentity,
  LeafOptions,
  SignedCertificate,
} from './certificate-authority.js';
export {
  BUNDLE_FILE,
  CA_CERT_FILE,
  CA_KEY_FILE,
  NEXT_CA_CERT_FILE,
  activateRootRotation,
  ensureCaDir,
  ensureIdentity,
  initCaDir,
  issueToDir,
  loadCaDir,
  loadIdentity,
  loadTrustBundle,
  finishRootRotation,
  prepareRootRotation,
} from './certs-dir.js';
export type { IdentityMaterial } from './certs-dir.js';
export { signJoinToken, verifyJoinToken } from './join-token.js';
export type { JoinTokenClaims } from './join-token.js';
export { generateRsaKeyPair } from './keys.js';
export type { KeyPairPem } from './keys.js';
export { TrustBundle } from './trust-bundle.js';
export { verifySvid } from './svid.js';
export { readCertificate } from './x509.js';
export type { CertificateFacts, KeyUsage, SubjectAltNames } from './x509.js';
