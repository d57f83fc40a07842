/**
 * `agent-mesh/agent`: the agent runtime. `startAgent` and its options, the handler types of generic methods and
 * streams, and the parts an agent is made of, for embedding them differently: the generic Agent service, the
 * server interceptors every call passes (composed by `agentPipeline`), the priority scheduler that queues calls,
 * and the certificate renewer.
 */

export { startAgent } from './agent-runtime.js';
export type { AgentOptions, RunningAgent, SkillOptions, SubscriptionOptions } from './agent-runtime.js';
export { TOKENS_TRAILER, createAgentService } from './agent-service.js';
export type {
  AgentServiceOptions,
  HandlerFallback,
  InvocationContext,
  InvocationPayload,
  MethodHandler,
  StreamHandler,
} from './agent-service.js';
export { CallScheduler, PRIORITY_CLASSES, priorityClass } from './call-scheduler.js';
export type { CallSchedulerOptions, PriorityClass } from './call-scheduler.js';
export { CertificateRenewer } from './certificate-renewer.js';
export type { CertificateRenewerOptions } from './certificate-renewer.js';
export { agentServicePipeline } from './agent-service.js';
export { agentPipeline } from './agent-pipeline.js';
export type { AgentPipelineOptions } from './agent-pipeline.js';
export {
  arrivalDeadline,
  arrivalInterceptors,
  authorization,
  callContext,
  hopLimit,
  routeCheck,
  tracing,
} from './server-interceptors.js';
export type { TracingOptions } from './server-interceptors.js';
export { admission, rateLimits } from './call-admission.js';
export type { AdmissionOptions, RateLimitOptions } from './call-admission.js';
