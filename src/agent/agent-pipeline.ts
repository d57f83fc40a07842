import { composeServerInterceptors, type ServerInterceptor } from '../core/server-call.js';
import type { AgentInstruments } from '../observability/agent-metrics.js';
import type { Logger } from '../observability/logger.js';
import { admission, rateLimits } from './call-admission.js';
import type { CallScheduler } from './call-scheduler.js';
import type { CallerPolicies } from './caller-policies.js';
import { PriorityGrants } from './priority-grants.js';
import { CallerRateLimiter } from './rate-limiter.js';
import { arrivalInterceptors, authorization, knownCallers, routeCheck } from './server-interceptors.js';

/** What {@link agentPipeline} is built from: the agent's parts its interceptors consult. */
export interface AgentPipelineOptions {
  /** The agent's type: its span names, the target of its policies. */
  type: string;
  callers: CallerPolicies;
  calls: CallScheduler;
  instruments: Pick<AgentInstruments, 'serverCall' | 'priorityLowered'>;
  logger: Logger;
  /** Most agents a caller chain may hold on arrival (default 10). */
  hopLimit?: number | undefined;
}

/**
 * The one chain of server interceptors every call an agent serves passes through, outermost first: the server
 * span and call metrics; the arrival checks (a deadline already passed, the hop limit); the call context; the
 * policies (revocation, authorization); the route check; the caller's rate limits (checked); admission with the
 * granted priority; the rate limits charged. Generic calls, streams, the user's typed services and event
 * deliveries share it; each interceptor knows which kinds of call it applies to (event deliveries are traced,
 * run in context and refused for a revoked publisher, but neither authorized as invocations, nor rate-limited,
 * nor queued: the publish policies check each event, and each subscription bounds its deliveries in flight).
 */
export function agentPipeline(options: AgentPipelineOptions): ServerInterceptor {
  const { callers, instruments } = options;
  const grants = new PriorityGrants(callers, instruments, options.logger);
  const limits = rateLimits({
    limiter: new CallerRateLimiter(),
    limits: () => callers.policies.rateLimits,
    callerTypes: (caller) => callers.typesOf(caller),
    targetType: options.type,
  });
  return composeServerInterceptors([
    ...arrivalInterceptors({
      type: options.type,
      // A method the agent does not serve by name is counted without it: callers cannot make up label values.
      record: (call, code, ms) =>
        instruments.serverCall(
          callers.metricTypeOf(call.caller),
          call.known ? call.method : 'unknown',
          code,
          ms,
        ),
      hopLimit: options.hopLimit,
    }),
    knownCallers((caller) => callers.know(caller)),
    authorization((caller, method, kind) => callers.checkCall(caller, method, kind)),
    routeCheck,
    limits.check,
    admission({ calls: options.calls, grant: (call) => grants.grant(call) }),
    limits.charge,
  ]);
}
