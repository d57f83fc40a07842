/**
 * `agent-mesh/control-plane`: the control plane's server side and its client. Starting a control plane, the stores
 * it keeps its state in (in memory, etcd), the registrar and its leases, the registry and discovery, active health
 * checks, the state every replica follows, request limits, and the operator's views (call graph, activity log,
 * agents and topology). The client is what agents and tools use to register, discover, watch and join. The domain
 * types its API speaks in (records, policies, selectors) are exported from `agent-mesh/core`.
 */

export { startControlPlane } from './control-plane.js';
export type { ControlPlaneOptions, RunningControlPlane } from './control-plane.js';
export { ControlPlaneClient, joinMesh, renewIdentity } from './client.js';
export type {
  ControlPlaneInfo,
  ControlPlaneCallOptions,
  ControlPlaneClientOptions,
  DiscoverRequest,
  JoinOptions,
  SignedIdentity,
  WatchHandle,
  WatchMessage,
} from './client.js';
export { parseControlPlaneAddresses } from './addresses.js';
export type { RequestLimitSettings, RequestRate } from './request-limits.js';

// Stores
export type { LeaseId, Store, StoreEvent, StoreWatch, StoreWatchHandlers, StoredValue } from './store.js';
export { MemoryStore } from './stores/memory-store.js';
export type { MemoryStoreOptions } from './stores/memory-store.js';
export { EtcdStore } from './stores/etcd-store.js';
export type { EtcdStoreOptions } from './stores/etcd-store.js';
export { createStore } from './stores/create-store.js';
export type { StoreChoice } from './stores/create-store.js';

// Registration, discovery, health, state
export { DEFAULT_LEASES, Registrar } from './registrar.js';
export type { LeaseSettings, RegistrarOptions, TypeEntitlements } from './registrar.js';
export { Registry } from './registry.js';
export type { DiscoveryQuery } from './registry.js';
export { DEFAULT_HEALTH_CHECKS, HealthChecker } from './health-checker.js';
export type { HealthCheckSettings, HealthCheckerOptions, HealthProbe } from './health-checker.js';
export { ControlPlaneState } from './state.js';
export type { StateChange, StateOptions } from './state.js';

// The operator's views
export { CallGraph } from './call-graph.js';
export type { CallEdge, CallGraphOptions, CallSeriesPoint, RecordOutcome } from './call-graph.js';
export { LoadHistory } from './load-history.js';
export type { LoadHistoryOptions, LoadPoint } from './load-history.js';
export { ActivityLog } from './activity.js';
export type {
  ActivityEntry,
  ActivityInput,
  ActivityKind,
  ActivityLogOptions,
  ActivitySeverity,
} from './activity.js';
export { OperationsView } from './operations-view.js';
export type {
  AgentDetailView,
  AgentTypeView,
  AgentView,
  AgentsView,
  CallsView,
  EventEdge,
  OperationsChange,
  OperationsViewOptions,
  PoliciesView,
  TopicSubscriberView,
  TopicsView,
  TopologyView,
} from './operations-view.js';
