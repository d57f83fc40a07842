import type { RateLimit } from '../core/policy.js';
import type { PriorityClass } from '../core/priority.js';
import type { ServerCall, ServerInterceptor } from '../core/server-call.js';
import type { CallScheduler } from './call-scheduler.js';
import type { CallerRateLimiter } from './rate-limiter.js';

/** Options for {@link rateLimits}. */
export interface RateLimitOptions {
  limiter: CallerRateLimiter;
  /** The policies' rate limits now (none: every call is let through uncounted). */
  limits: () => readonly RateLimit[] | undefined;
  /** The agent types a caller is known by. */
  callerTypes: (caller: ServerCall['caller']) => readonly string[];
  /** The agent's own type. */
  targetType: string;
}

/**
 * The policies' per-caller rate limits, in two parts around admission: `check` refuses a call over one of its
 * caller's budgets before it takes a place (RESOURCE_EXHAUSTED with a retry-after hint); `charge`, once the call
 * was admitted, takes it from the budgets, and the tokens its handler reported when it ends. A call that waits
 * and never runs costs nothing. Event deliveries are not rate-limited.
 */
export function rateLimits(options: RateLimitOptions): {
  check: ServerInterceptor;
  charge: ServerInterceptor;
} {
  /** The calls checked and not yet charged, with the budgets to charge. */
  const checked = new WeakMap<ServerCall, { take(): (tokens: number) => void }>();
  return {
    check: (next) => (call) => {
      if (call.kind === 'events') return next(call);
      const limits = options.limits();
      if (!limits || limits.length === 0) return next(call);
      checked.set(
        call,
        options.limiter.check(limits, {
          caller: call.caller.uri,
          callerTypes: options.callerTypes(call.caller),
          targetType: options.targetType,
          method: call.method,
        }),
      );
      return next(call);
    },
    charge: (next) => (call) => {
      const budget = checked.get(call);
      if (!budget) return next(call);
      checked.delete(call);
      const chargeTokens = budget.take();
      call.onEnded(() => chargeTokens(call.tokens));
      return next(call);
    },
  };
}

/** Options for {@link admission}. */
export interface AdmissionOptions {
  calls: CallScheduler;
  /** The priority class a call runs at (the caller's ask, capped by its grant). */
  grant: (call: ServerCall) => PriorityClass;
}

/**
 * Admission: the call takes a place among the agent's calls, waiting in its queue by the priority class it is
 * granted when all are taken (refused RESOURCE_EXHAUSTED when the queue is full, DEADLINE_EXCEEDED when its
 * deadline passes first, CANCELLED when its caller goes away), and holds it until it ends; a typed call ends
 * when its caller goes away too. Places count toward heartbeats' load and drains. Event deliveries take none:
 * each subscription bounds its own deliveries in flight.
 */
export function admission(options: AdmissionOptions): ServerInterceptor {
  return (next) => (call) => {
    if (call.kind === 'events') return next(call);
    call.priority = options.grant(call);
    const holding = (end: () => void) => {
      call.onEnded(end);
      return next(call);
    };
    const taken = options.calls.tryTake() ?? options.calls.admit(call.priority, call.deadline, call.signal);
    return typeof taken === 'function' ? holding(taken) : taken.then(holding); // no tick when a place is free
  };
}
