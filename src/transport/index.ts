/**
 * `agent-mesh/transport`: gRPC over mutual TLS with SPIFFE identities. The identity a process serves and calls
 * with (hot-swapped on renewal), channel and server credentials that check the peer's SPIFFE ID, a server with
 * `grpc.health.v1` and reflection, the mesh's protos, and the one mapping between MeshError and gRPC statuses.
 * For typed services of your own beside the mesh's, and for tools that speak the wire directly.
 */

export { MeshIdentity } from './mesh-identity.js';
export type { VerifiedPeer } from './mesh-identity.js';
export {
  CONTROL_PLANE_CHANNEL_OPTIONS,
  MESH_CHANNEL_OPTIONS,
  MESH_SERVER_OPTIONS,
  createBootstrapChannelCredentials,
  createChannelCredentials,
  createServerCredentials,
  peerIdentity,
} from './credentials.js';
export type { ExpectedPeer, ServerCredentialsOptions } from './credentials.js';
export { GrpcHealthProbe } from './health-probe.js';
export type { ProbeTarget } from './health-probe.js';
export { startServer } from './server.js';
export type { RunningServer, ServiceRegistration, StartServerOptions } from './server.js';
export { PROTO_ROOT, loadMeshProtos, loadProtos } from './protos.js';
export type { MeshProtos } from './protos.js';
export { PROTO_LOAD_OPTIONS } from './proto-options.js';
export { RETRY_AFTER_KEY, SERVER_STATUS_KEY, toServiceError, fromServiceError } from './status.js';
export { AgentConnection, toMetadata } from './agent-connection.js';
export type {
  AttemptFailure,
  AttemptOutcome,
  InvokeAnswer,
  InvokeRequest,
  OpenStream,
  SendProbe,
} from './agent-connection.js';
export {
  interceptService,
  interceptedHandler,
  readCall,
  streamMethod,
  unaryMethod,
} from './server-pipeline.js';
export type {
  CallTarget,
  IncomingCall,
  IncomingFacts,
  MethodShape,
  PipelineOptions,
} from './server-pipeline.js';
