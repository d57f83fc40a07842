/**
 * agent-mesh: the public API, what a user of the mesh needs to run agents, call them, publish and subscribe to
 * events, give them identities and run a control plane. Everything is exported by name (types with `export type`).
 *
 * The rest sits behind subpath exports, one per layer of `src/`: `agent-mesh/core` (the domain: policies,
 * selectors, topics, call context), `agent-mesh/identity` (the CA, certificate directories, join tokens),
 * `agent-mesh/observability`, `agent-mesh/transport` (credentials, servers, protos, status mapping),
 * `agent-mesh/control-plane` (stores, registrar, state, health checks, operator views), `agent-mesh/data-plane`
 * (endpoint cache, balancers, retry budgets), `agent-mesh/pubsub`, `agent-mesh/agent`, `agent-mesh/sidecar`, and
 * `agent-mesh/testing` (a CA and a whole mesh in a temporary directory, for tests of agents).
 */

// Errors
export { Code, MeshError, codeName } from './core/index.js';

// Agents: run one, serve methods, streams and skills
export { startAgent } from './agent/index.js';
export type {
  AgentOptions,
  HandlerFallback,
  InvocationContext,
  InvocationPayload,
  MethodHandler,
  RunningAgent,
  SkillOptions,
  StreamHandler,
  SubscriptionOptions,
} from './agent/index.js';

// Calls: the mesh client, and typed channels through the mesh
export { EndpointCache, MeshClient, meshChannel } from './data-plane/index.js';
export type {
  BalancerName,
  CallObserver,
  EndpointCacheOptions,
  MeshCallOptions,
  MeshCallResult,
  MeshChannelOptions,
  MeshClientOptions,
  MeshStreamChunk,
  MeshStreamOptions,
  TargetQuery,
  TypedChannel,
  TypedChannelOptions,
} from './data-plane/index.js';
export type { AgentRecord, CallContext } from './core/index.js';

// Events: publish and subscribe
export { dropEvent, retryLater } from './pubsub/index.js';
export type {
  DeadLetterInfo,
  EventHandler,
  EventOutcome,
  MeshEvent,
  PublishOptions,
  PublishReport,
  ReceivedEvent,
} from './pubsub/index.js';

// Identity: SPIFFE IDs, certificate directories, the CA
export { MeshIdentity } from './transport/index.js';
export type { VerifiedPeer } from './transport/index.js';
export { identityNameOf, parseSpiffeId } from './core/index.js';
export type { SpiffeId } from './core/index.js';
export { ensureCaDir, ensureIdentity, loadIdentity } from './identity/index.js';
export type { IdentityMaterial, LeafOptions } from './identity/index.js';

// The control plane: its client, joining with a token, and its server
export { ControlPlaneClient, MemoryStore, joinMesh, startControlPlane } from './control-plane/index.js';
export type {
  ControlPlaneCallOptions,
  ControlPlaneClientOptions,
  ControlPlaneOptions,
  DiscoverRequest,
  JoinOptions,
  MemoryStoreOptions,
  RunningControlPlane,
  Store,
  WatchHandle,
  WatchMessage,
} from './control-plane/index.js';

// Logging
export { createLogger, silentLogger } from './observability/index.js';
export type { Logger, LoggerOptions } from './observability/index.js';
