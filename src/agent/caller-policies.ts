import { Code, MeshError, quote, truncateInput } from '../core/errors.js';
import { authorize, entitledTypes, isRevoked, revokedRefusal, type PolicySet } from '../core/policy.js';
import { publishRefusal } from '../core/publish-policy.js';
import type { ServerCallKind } from '../core/server-call.js';
import { identityNameOf, type SpiffeId, type VerifiedPeer } from '../core/spiffe-id.js';
import type { AgentRecord } from '../core/agent-record.js';

/** What {@link CallerPolicies} reads: the policies and agents an agent's endpoint cache holds now. */
export interface PolicySource {
  readonly policies: PolicySet;
  get(name: string): AgentRecord | undefined;
  /** Starts following agent `name` when not yet (see `EndpointCache.coverAgent`). */
  coverAgent?(name: string): Promise<void> | undefined;
}

/**
 * An agent's view of its callers under the control plane's policies: the agent types each is known by, and
 * whether it may invoke a method or publish to a topic. Reads the policies afresh on every question, so a change
 * applies from the next call on.
 */
export class CallerPolicies {
  constructor(
    private readonly source: PolicySource,
    /** The agent's own type, the target of the calls it checks. */
    private readonly targetType: string,
  ) {}

  get policies(): PolicySet {
    return this.source.policies;
  }

  /**
   * The agent types a caller is known by in policies: those its certificate and the policies' grants entitle it to
   * (see {@link entitledTypes}), and the type it registered as, which the control plane admitted (with entitlements
   * enforced, one of those; in audit mode, whatever it claimed).
   */
  typesOf(caller: VerifiedPeer): string[] {
    const types = entitledTypes(this.source.policies, caller);
    const registered = this.registeredTypeOf(caller);
    if (registered !== undefined && !types.includes(registered)) types.push(registered);
    return types;
  }

  /**
   * Undefined when the caller's record is at hand (or it is not one of the mesh's agents); otherwise a promise that
   * resolves once the registry view follows it.
   */
  know(caller: SpiffeId): Promise<void> | undefined {
    const callerName = identityNameOf(caller);
    if (callerName === undefined || this.source.get(callerName)) return undefined;
    return this.source.coverAgent?.(callerName);
  }

  /** The type `caller` registered as, when it is one of the mesh's agents. */
  registeredTypeOf(caller: SpiffeId): string | undefined {
    const callerName = identityNameOf(caller);
    const record = callerName === undefined ? undefined : this.source.get(callerName);
    return record?.spiffeId === caller.uri ? record.spec.type : undefined;
  }

  /** The registered type of a caller, for metrics (`unknown` for a caller not in the registry). */
  metricTypeOf(caller: SpiffeId): string {
    return this.registeredTypeOf(caller) ?? 'unknown';
  }

  /**
   * Refuses a call the policies do not allow before any handler, generic or typed, runs: a revoked caller's
   * always; an invocation (not an event delivery, whose events the publish policies check one by one) that no
   * rule allows or one denies.
   * @throws MeshError PERMISSION_DENIED naming the revocation or the rule.
   */
  checkCall(caller: VerifiedPeer, method: string, kind: ServerCallKind): void {
    const policies = this.source.policies;
    if (isRevoked(policies, caller.uri)) throw revokedRefusal(caller.uri);
    if (kind === 'events') return;
    const decision = authorize(policies, {
      caller: caller.uri,
      callerTypes: this.typesOf(caller),
      action: 'invoke',
      targetType: this.targetType,
      method,
    });
    if (!decision.allowed) {
      // The method is the caller's input until routed: echoed briefly.
      throw new MeshError(
        Code.PERMISSION_DENIED,
        `${quote(caller.uri)} may not invoke ${this.targetType}.${truncateInput(method)}${decision.ruleId ? ` (rule ${decision.ruleId})` : ' (no rule allows it)'}`,
      );
    }
  }

  /** Whether `publisher` may publish to `topic`: undefined when allowed, else why not. */
  publishRefusal(publisher: VerifiedPeer, topic: string): string | undefined {
    const policies = this.source.policies;
    return isRevoked(policies, publisher.uri)
      ? revokedRefusal(publisher.uri).message
      : publishRefusal(policies, { uri: publisher.uri, types: this.typesOf(publisher) }, topic);
  }
}
