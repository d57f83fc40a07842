import { Code, MeshError, quote, truncateInput } from '../core/errors.js';
import { authorize, entitledTypes, isRevoked, revokedRefusal, type PolicySet } from '../core/policy.js';
import { publishRefusal } from '../core/publish-policy.js';
import type { ServerCallKind } from '../core/server-call.js';
import { identityNameOf, type VerifiedPeer } from '../core/spiffe-id.js';
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
  /** What the policies and the registry view say of each caller, while neither changed (see {@link factsOf}). */
  private readonly facts = new WeakMap<VerifiedPeer, CallerFacts>();

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
  typesOf(caller: VerifiedPeer): readonly string[] {
    return this.factsOf(caller).types;
  }

  /**
   * Undefined when the caller's record is at hand (or it is not one of the mesh's agents); otherwise a promise that
   * resolves once the registry view follows it.
   */
  know(caller: VerifiedPeer): Promise<void> | undefined {
    const facts = this.factsOf(caller);
    if (facts.name === undefined || facts.record || facts.covered) return undefined;
    const waiting = this.source.coverAgent?.(facts.name);
    // The view follows the caller now (it is not registered): its record, when it comes, makes facts anew.
    if (!waiting) facts.covered = true;
    return waiting;
  }

  /** The type `caller` registered as, when it is one of the mesh's agents. */
  registeredTypeOf(caller: VerifiedPeer): string | undefined {
    return this.factsOf(caller).registeredType;
  }

  /** The registered type of a caller, for metrics (`unknown` for a caller not in the registry). */
  metricTypeOf(caller: VerifiedPeer): string {
    return this.factsOf(caller).registeredType ?? 'unknown';
  }

  /**
   * Refuses a call the policies do not allow before any handler, generic or typed, runs: a revoked caller's
   * always; an invocation (not an event delivery, whose events the publish policies check one by one) that no
   * rule allows or one denies. A caller's decision for a method is kept while the policies and its record stand.
   * @throws MeshError PERMISSION_DENIED naming the revocation or the rule.
   */
  checkCall(caller: VerifiedPeer, method: string, kind: ServerCallKind): void {
    const facts = this.factsOf(caller);
    if (facts.revoked) throw revokedRefusal(caller.uri);
    if (kind === 'events') return;
    let refusal = facts.decisions.get(method);
    if (refusal === undefined) {
      refusal = this.decide(facts, caller, method);
      // Method names are the caller's input: at most so many decisions are kept for one caller.
      if (facts.decisions.size >= MAX_DECISIONS) facts.decisions.clear();
      facts.decisions.set(method, refusal);
    }
    if (refusal) throw refusal;
  }

  /** Whether `publisher` may publish to `topic`: undefined when allowed, else why not. */
  publishRefusal(publisher: VerifiedPeer, topic: string): string | undefined {
    const facts = this.factsOf(publisher);
    return facts.revoked
      ? revokedRefusal(publisher.uri).message
      : publishRefusal(facts.policies, { uri: publisher.uri, types: facts.types }, topic);
  }

  /** The refusal of an invocation of `method` by the caller of `facts`, or null when the policies allow it. */
  private decide(facts: CallerFacts, caller: VerifiedPeer, method: string): MeshError | null {
    const decision = authorize(facts.policies, {
      caller: caller.uri,
      callerTypes: facts.types,
      action: 'invoke',
      targetType: this.targetType,
      method,
    });
    if (decision.allowed) return null;
    // The method is the caller's input until routed: echoed briefly.
    return new MeshError(
      Code.PERMISSION_DENIED,
      `${quote(caller.uri)} may not invoke ${this.targetType}.${truncateInput(method)}${decision.ruleId ? ` (rule ${decision.ruleId})` : ' (no rule allows it)'}`,
    );
  }

  /**
   * What the policies and the registry view say of `caller` now. Kept per verified caller (one object per
   * connection) and made again when the policies or the caller's record change: the cache replaces both whole.
   */
  private factsOf(caller: VerifiedPeer): CallerFacts {
    const policies = this.source.policies;
    const known = this.facts.get(caller);
    if (
      known?.policies === policies &&
      (known.name === undefined || this.source.get(known.name) === known.record)
    ) {
      return known;
    }
    const name = known ? known.name : identityNameOf(caller);
    const record = name === undefined ? undefined : this.source.get(name);
    const registeredType = record?.spiffeId === caller.uri ? record.spec.type : undefined;
    const types = entitledTypes(policies, caller);
    if (registeredType !== undefined && !types.includes(registeredType)) types.push(registeredType);
    const facts: CallerFacts = {
      policies,
      name,
      record,
      registeredType,
      types,
      revoked: isRevoked(policies, caller.uri),
      decisions: new Map(),
      covered: false,
    };
    this.facts.set(caller, facts);
    return facts;
  }
}

/** Most invocation decisions kept for one caller (one per method it called). */
const MAX_DECISIONS = 256;

/** What the policies and the registry view said of a caller when they were last read. */
interface CallerFacts {
  readonly policies: PolicySet;
  /** The identity's name, when it is one of the mesh's agents. */
  readonly name: string | undefined;
  readonly record: AgentRecord | undefined;
  readonly registeredType: string | undefined;
  readonly types: readonly string[];
  readonly revoked: boolean;
  /** The refusal of an invocation by method, or null when it is allowed. */
  readonly decisions: Map<string, MeshError | null>;
  /** Whether the registry view follows the caller already (see {@link CallerPolicies.know}). */
  covered: boolean;
}
