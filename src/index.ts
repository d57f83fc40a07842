/**
 * agent-mesh: the public API. Everything a user may import is exported here by name.
 */

// Errors and results
export { Code, MeshError, codeName, ok, err, fail, unwrap } from './errors.js';
export type { Result } from './errors.js';
export { parseDuration, formatDuration } from './duration.js';

// Identity: SPIFFE IDs, the certificate authority, trust bundles, certificate files
export {
  CONTROL_PLANE_NAME,
  parseSpiffeId,
  spiffeIdFrom,
  identitySpiffeId,
  trustDomainSpiffeId,
  identityNameOf,
  validateIdentityName,
  validateTrustDomain,
} from './identity/spiffe-id.js';
export type { SpiffeId } from './identity/spiffe-id.js';
export {
  CertificateAuthority,
  createCertificateRequest,
  DEFAULT_CA_TTL_MS,
  DEFAULT_LEAF_TTL_MS,
} from './identity/certificate-authority.js';
export type {
  Clock,
  CreateCaOptions,
  IssuedIdentity,
  LeafOptions,
  SignedCertificate,
} from './identity/certificate-authority.js';
export { generateRsaKeyPair } from './identity/keys.js';
export type { KeyPairPem } from './identity/keys.js';
export { TrustBundle } from './identity/trust-bundle.js';
export { verifySvid } from './identity/svid.js';
export { readCertificate } from './identity/x509.js';
export type { CertificateFacts, KeyUsage, SubjectAltNames } from './identity/x509.js';
export {
  CA_CERT_FILE,
  CA_KEY_FILE,
  ensureCaDir,
  ensureIdentity,
  initCaDir,
  issueToDir,
  loadCaDir,
  loadIdentity,
  loadTrustBundle,
} from './identity/certs-dir.js';
export type { IdentityMaterial } from './identity/certs-dir.js';

// Transport: mTLS credentials, servers, protos, status mapping
export { MeshIdentity } from './transport/mesh-identity.js';
export {
  MESH_CHANNEL_OPTIONS,
  createChannelCredentials,
  createServerCredentials,
  peerIdentity,
} from './transport/credentials.js';
export type { ExpectedPeer } from './transport/credentials.js';
export { startServer } from './transport/server.js';
export type { RunningServer, ServiceRegistration, StartServerOptions } from './transport/server.js';
export { PROTO_ROOT, loadMeshProtos, loadProtos } from './transport/protos.js';
export type { MeshProtos } from './transport/protos.js';
export { PROTO_LOAD_OPTIONS } from './transport/proto-options.js';
export { toServiceError, fromServiceError } from './transport/status.js';

// Agent
export { createAgentService } from './agent/agent-service.js';
export type {
  AgentServiceOptions,
  InvocationContext,
  InvocationPayload,
  MethodHandler,
} from './agent/agent-service.js';

// Observability
export { createLogger, silentLogger } from './observability/logger.js';
export type { Logger, LoggerOptions } from './observability/logger.js';
