/**
 * `agent-mesh/agent`: the agent runtime. `startAgent` and its options, the handler types of generic methods and
 * streams, and the parts an agent is made of, for embedding them differently: the generic Agent service, the
 * priority scheduler that queues calls, and the certificate renewer.
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
