/**
 * agent-mesh: the public API. Everything a user may import is exported here by name.
 */

// Errors and results
export { Code, MeshError, codeName, ok, err, fail, unwrap, quote } from './core/errors.js';
export type { Result } from './core/errors.js';
export { parseDuration, formatDuration } from './core/duration.js';

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
} from './core/spiffe-id.js';
export type { SpiffeId } from './core/spiffe-id.js';
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
} from './identity/certs-dir.js';
export { signJoinToken, verifyJoinToken } from './identity/join-token.js';
export type { JoinTokenClaims } from './identity/join-token.js';
export type { IdentityMaterial } from './identity/certs-dir.js';

// Transport: mTLS credentials, servers, protos, status mapping
export { MeshIdentity } from './transport/mesh-identity.js';
export type { VerifiedPeer } from './transport/mesh-identity.js';
export {
  CONTROL_PLANE_CHANNEL_OPTIONS,
  MESH_CHANNEL_OPTIONS,
  createBootstrapChannelCredentials,
  createChannelCredentials,
  createServerCredentials,
  peerIdentity,
} from './transport/credentials.js';
export type { ExpectedPeer, ServerCredentialsOptions } from './transport/credentials.js';
export { GrpcHealthProbe } from './transport/health-probe.js';
export type { ProbeTarget } from './transport/health-probe.js';
export { startServer } from './transport/server.js';
export type { RunningServer, ServiceRegistration, StartServerOptions } from './transport/server.js';
export { PROTO_ROOT, loadMeshProtos, loadProtos } from './transport/protos.js';
export type { MeshProtos } from './transport/protos.js';
export { PROTO_LOAD_OPTIONS } from './transport/proto-options.js';
export { toServiceError, fromServiceError } from './transport/status.js';

// Control plane
export { startControlPlane } from './control-plane/control-plane.js';
export type { ControlPlaneOptions, RunningControlPlane } from './control-plane/control-plane.js';
export { ControlPlaneClient, joinMesh, renewIdentity } from './control-plane/client.js';
export { parseControlPlaneAddresses } from './control-plane/addresses.js';
export type { RequestLimitSettings, RequestRate } from './control-plane/request-limits.js';
export type {
  ControlPlaneCallOptions,
  ControlPlaneClientOptions,
  DiscoverRequest,
  JoinOptions,
  SignedIdentity,
  WatchHandle,
  WatchMessage,
} from './control-plane/client.js';
export {
  DEFAULT_WEIGHT,
  MAX_SPEC_BYTES,
  offersSkill,
  validateSkills,
  validateSpec,
} from './core/agent-record.js';
export type { AgentRecord, AgentSpec, Health, LoadReport, Skill } from './core/agent-record.js';
export { Registry } from './control-plane/registry.js';
export type { DiscoveryQuery } from './control-plane/registry.js';
export { matchesLabels, parseLabelSelector } from './core/label-selector.js';
export type { LabelRequirement, LabelSelector } from './core/label-selector.js';
export {
  ALLOW_ALL,
  authorize,
  entitledTypes,
  grantedPriority,
  isRevoked,
  validatePolicySet,
} from './core/policy.js';
export type {
  AccessDecision,
  AccessRequest,
  EntitledIdentity,
  Grant,
  PolicyAction,
  PolicyEffect,
  PolicyRule,
  PolicySet,
} from './core/policy.js';
export { MAX_ENTITLED_TYPES, validateAgentType, validateEntitledTypes } from './core/agent-types.js';
export { DEFAULT_HEALTH_CHECKS, HealthChecker } from './control-plane/health-checker.js';
export type { HealthCheckSettings, HealthProbe } from './control-plane/health-checker.js';
export { DEFAULT_LEASES, Registrar } from './control-plane/registrar.js';
export type { LeaseSettings, TypeEntitlements } from './control-plane/registrar.js';
export { ControlPlaneState } from './control-plane/state.js';
export type { StateChange } from './control-plane/state.js';
export type {
  LeaseId,
  Store,
  StoreEvent,
  StoreWatch,
  StoreWatchHandlers,
  StoredValue,
} from './control-plane/store.js';
export { MemoryStore } from './control-plane/stores/memory-store.js';
export { EtcdStore } from './control-plane/stores/etcd-store.js';
export { createStore } from './control-plane/stores/create-store.js';
export { CallGraph } from './control-plane/call-graph.js';
export type { CallEdge, CallGraphOptions } from './control-plane/call-graph.js';
export { ActivityLog } from './control-plane/activity.js';
export type { ActivityEntry, ActivityLogOptions } from './control-plane/activity.js';
export { OperationsView } from './control-plane/operations-view.js';
export type { AgentView, AgentsView, TopologyView } from './control-plane/operations-view.js';

// Data plane
export { EndpointCache } from './data-plane/endpoint-cache.js';
export type { CacheChange, EndpointCacheOptions, TargetQuery } from './data-plane/endpoint-cache.js';
export type { BackoffSettings } from './core/backoff.js';
export { MeshClient } from './data-plane/mesh-client.js';
export { CallReports, MAX_CALL_REPORTS } from './data-plane/call-reports.js';
export type { CallReport } from './data-plane/call-reports.js';
export type {
  CallObserver,
  MeshCallOptions,
  MeshCallResult,
  MeshClientOptions,
  MeshStreamChunk,
  MeshStreamOptions,
} from './data-plane/mesh-client.js';
export { createBalancer } from './data-plane/create-balancer.js';
export { BALANCER_NAMES } from './data-plane/load-balancer.js';
export { meshChannel } from './data-plane/mesh-resolver.js';
export type { BalancerName, Endpoint, LoadBalancer, PickOptions } from './data-plane/load-balancer.js';
export { EndpointStats } from './data-plane/endpoint-stats.js';
export { DEFAULT_OUTLIER_SETTINGS, OutlierDetector } from './data-plane/outlier-detector.js';
export type { OutlierSettings } from './data-plane/outlier-detector.js';
export { DEFAULT_RETRY_BUDGET, RetryBudget, backoffDelay } from './data-plane/retry-budget.js';
export type { RetryBudgetSettings } from './data-plane/retry-budget.js';

// Pub/sub
export {
  MAX_TOPIC_SEGMENTS,
  matchesTopic,
  patternCovers,
  validatePattern,
  validateTopic,
} from './core/topic.js';
export {
  DEAD_LETTER_PREFIX,
  DEFAULT_MAX_PAYLOAD_BYTES,
  deadLetterTopic,
  dropEvent,
  retryLater,
  validateEvent,
  validateEventTopic,
} from './pubsub/event.js';
export type {
  DeadLetterInfo,
  EventHandler,
  EventOutcome,
  MeshEvent,
  PublishReport,
  ReceivedEvent,
} from './pubsub/event.js';
export { EventPublisher } from './pubsub/publisher.js';
export type { PublishOptions, PublisherOptions, PublisherStats } from './pubsub/publisher.js';
export { SubscriptionSet } from './pubsub/subscriber.js';
export type { SubscriptionSetOptions } from './pubsub/subscriber.js';
export { DEFAULT_MAX_IN_FLIGHT, validateSubscriptions } from './core/subscription.js';
export type { Subscription } from './core/subscription.js';

export {
  CONTEXT_KEYS,
  DEFAULT_HOP_LIMIT,
  childTraceparent,
  contextFromMetadata,
  currentContext,
  newTraceparent,
  outboundContext,
  runWithContext,
} from './core/call-context.js';
export type { CallContext } from './core/call-context.js';

// Agent
export { startAgent } from './agent/agent-runtime.js';
export type { AgentOptions, RunningAgent, SkillOptions, SubscriptionOptions } from './agent/agent-runtime.js';
export { CertificateRenewer } from './agent/certificate-renewer.js';
export type { CertificateRenewerOptions } from './agent/certificate-renewer.js';
export { createAgentService } from './agent/agent-service.js';
export type {
  AgentServiceOptions,
  InvocationContext,
  InvocationPayload,
  MethodHandler,
  StreamHandler,
} from './agent/agent-service.js';

// Sidecar for agents in other languages
export { OUTBOUND_SOCKET, startSidecar } from './sidecar/sidecar.js';
export type { RunningSidecar, SidecarOptions } from './sidecar/sidecar.js';
export { SIDECAR_METADATA } from './sidecar/app-connection.js';
export { defaultSocketDir } from './sidecar/private-socket.js';

// Agent runtime: scheduling and cards
export { CallScheduler, PRIORITY_CLASSES, priorityClass } from './agent/call-scheduler.js';
export type { CallSchedulerOptions, PriorityClass } from './agent/call-scheduler.js';
export { A2A_PROTOCOL_VERSION, agentCard, toA2aAgentCard } from './core/agent-card.js';
export type { AgentCard } from './core/agent-card.js';
export { RETRY_AFTER_KEY } from './transport/status.js';

// Observability
export { createLogger, silentLogger } from './observability/logger.js';
export type { Logger, LoggerOptions } from './observability/logger.js';
export { AgentInstruments, AgentMetrics } from './observability/agent-metrics.js';
export { ControlPlaneMetrics } from './observability/control-plane-metrics.js';
export { registerProcessMetrics } from './observability/process-metrics.js';
export { metricsRoute, startHttpServer } from './observability/http-server.js';
export type { HttpRoute, HttpServerOptions, RunningHttpServer } from './observability/http-server.js';
export { flushTracing, registerTracing, startTracingFromEnv, stopTracing } from './observability/tracing.js';
