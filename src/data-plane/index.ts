/**
 * `agent-mesh/data-plane`: how calls find and reach agents. The endpoint cache fed by the control plane's watch,
 * the mesh client (balancing, deadlines, retry and failover within a retry budget, outlier ejection), typed
 * channels routed through the same attempt loop, the client's interceptors, the load balancers, and the call reports an agent sends with its heartbeat.
 */

export { EndpointCache } from './endpoint-cache.js';
export type { CacheChange, EndpointCacheOptions, TargetQuery } from './endpoint-cache.js';
export { MeshClient } from './mesh-client.js';
export type {
  CallObserver,
  MeshCallOptions,
  MeshCallResult,
  MeshClientOptions,
  MeshStreamChunk,
  MeshStreamOptions,
} from './mesh-client.js';
export { meshChannel } from './mesh-resolver.js';
export type { MeshChannelOptions } from './mesh-resolver.js';
export type { TypedChannel, TypedChannelOptions } from './routed-channel.js';
export { AttemptLoop } from './attempt-loop.js';
export type { AttemptLoopOptions, AttemptPlan, Committed } from './attempt-loop.js';
export { EndpointPool } from './endpoint-pool.js';
export type { EndpointPoolOptions, Member, Pick, Target } from './endpoint-pool.js';
export { callDeadline, composeClient, outboundHeaders, tracing } from './client-pipeline.js';
export type { ClientAnswer, ClientCall, ClientHandler, ClientInterceptor } from './client-pipeline.js';
export { CallReports, MAX_CALL_REPORTS } from './call-reports.js';
export type { CallReport } from './call-reports.js';

// Load balancing, outliers, retry budgets
export { createBalancer } from './create-balancer.js';
export { BALANCER_NAMES } from './load-balancer.js';
export type { BalancerName, Endpoint, LoadBalancer, PickOptions } from './load-balancer.js';
export { EndpointStats } from './endpoint-stats.js';
export { DEFAULT_OUTLIER_SETTINGS, OutlierDetector } from './outlier-detector.js';
export type { OutlierSettings } from './outlier-detector.js';
export { DEFAULT_RETRY_BUDGET, RetryBudget, backoffDelay } from './retry-budget.js';
export type { RetryBudgetSettings } from './retry-budget.js';
