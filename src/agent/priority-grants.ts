import { grantedPriority } from '../core/policy.js';
import { moreUrgent, priorityClass, type PriorityClass } from '../core/priority.js';
import type { ServerCall } from '../core/server-call.js';
import type { AgentInstruments } from '../observability/agent-metrics.js';
import type { Logger } from '../observability/logger.js';
import type { CallerPolicies } from './caller-policies.js';

/** Callers whose first lowered call was logged: at most this many, then the set starts over. */
const LOGGED_CALLERS = 1_000;

/**
 * The priority class a call runs at: what its caller asked for, unless the policies' grants give the caller less
 * (`default` without a grant). The call's context then carries the granted class, so calls made while handling
 * it ask for no more either. Each caller's first lowered call is logged; the metric counts them all.
 */
export class PriorityGrants {
  private readonly loweredFor = new Set<string>();

  constructor(
    private readonly callers: CallerPolicies,
    private readonly instruments: Pick<AgentInstruments, 'priorityLowered'>,
    private readonly logger: Logger,
  ) {}

  /** The class `call` runs at; sets the call context's priority to it when the caller sent one. */
  grant(call: Pick<ServerCall, 'caller' | 'context'>): PriorityClass {
    const asked = priorityClass(call.context.priority);
    // What the handler sees and passes on is a class, never the caller's raw text.
    if (call.context.priority !== undefined) call.context.priority = asked;
    if (!moreUrgent(asked, 'default')) return asked;
    const granted = grantedPriority(this.callers.policies, {
      uri: call.caller.uri,
      types: this.callers.typesOf(call.caller),
    });
    if (!moreUrgent(asked, granted)) return asked;
    call.context.priority = granted;
    this.instruments.priorityLowered(this.callers.metricTypeOf(call.caller), asked, granted);
    if (!this.loweredFor.has(call.caller.uri)) {
      if (this.loweredFor.size >= LOGGED_CALLERS) this.loweredFor.clear();
      this.loweredFor.add(call.caller.uri);
      this.logger.warn(
        { caller: call.caller.uri, asked, granted },
        `a caller asked for priority ${asked} without a grant: its calls run at ${granted} (grant it with a policy grant)`,
      );
    }
    return granted;
  }
}
