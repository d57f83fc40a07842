import { Code, MeshError, fail, ok, quote, type Result } from './errors.js';
import { validateAgentType } from './agent-types.js';
import { isPriorityClass, moreUrgent, PRIORITY_CLASSES, type PriorityClass } from './priority.js';
import { matchesTopic, patternCovers, validatePattern } from './topic.js';

/** What a rule does when it matches. */
export type PolicyEffect = 'allow' | 'deny';
/** What a caller wants to do. */
export type PolicyAction = 'invoke' | 'publish' | 'subscribe';

/**
 * One authorization rule. Every listed condition must hold for the rule to match; an empty list places no
 * condition. `callers` are SPIFFE ID patterns where `*` stands for any characters within one path segment
 * (e.g. `spiffe://agentmesh.local/agent/billing-*`).
 */
export interface PolicyRule {
  id: string;
  effect: PolicyEffect;
  actions: PolicyAction[];
  callers: string[];
  /** The caller's entitled agent types (see {@link entitledTypes}): one of them must be listed. */
  callerTypes: string[];
  /** For invoke: the callee's agent types. */
  targetTypes: string[];
  /** For invoke: method names; a trailing `*` matches any suffix. */
  methods: string[];
  /** For publish and subscribe: topic patterns (`*`, `>`). A subscription must be covered by one of them. */
  topics: string[];
}

/** The rules and what happens when none matches. Deny rules win over allow rules. */
export interface PolicySet {
  defaultEffect: PolicyEffect;
  rules: PolicyRule[];
  /** Per-caller rate limits on invoke calls, enforced by the callees (none when absent). */
  rateLimits?: RateLimit[];
  /** What identities are granted beyond their certificates: agent types, priority (none when absent). */
  grants?: Grant[];
  /**
   * SPIFFE ID patterns of identities cut off from the mesh, e.g. one whose key was stolen: the control plane
   * refuses their every request (renewals included) and removes their registrations, and every agent refuses their
   * calls and events. Their certificates stay valid: reissue the agent under another name.
   */
  revokedIdentities?: string[];
}

/** Whether `uri` is one of the policies' revoked identities. */
export function isRevoked(policies: PolicySet, uri: string): boolean {
  const revoked = policies.revokedIdentities ?? [];
  return revoked.length > 0 && callerMatches(revoked, uri);
}

/** The refusal of a revoked identity's request. */
export function revokedRefusal(uri: string): MeshError {
  return new MeshError(
    Code.PERMISSION_DENIED,
    `${quote(uri)} is revoked by the mesh's policies (revokedIdentities): give the agent a new identity`,
  );
}

/**
 * An administrator's grant to the identities it matches, beyond what their certificates say: agent types they may
 * register as and are known by in `callerTypes` (matched by `callers` alone: types do not grant types), and/or the
 * most urgent priority class their calls may run at (matched by `callers` and `callerTypes`).
 */
export interface Grant {
  id: string;
  /** SPIFFE ID patterns (as in rules); empty: every identity. */
  callers: string[];
  /** Entitled agent types, one of which the identity must have; only with `priority`. */
  callerTypes: string[];
  /** Agent types granted. */
  types: string[];
  /** The most urgent priority class granted; empty: none (`default`). */
  priority: PriorityClass | '';
}

/** An identity as policies see it: its SPIFFE ID and the agent types its certificate entitles it to. */
export interface EntitledIdentity {
  uri: string;
  agentTypes: readonly string[];
}

/**
 * The agent types an identity is entitled to: those its certificate records (put there by the mesh's CA) and
 * those the policies' grants give its SPIFFE ID. What an agent registered as is never one of them unless it is.
 */
export function entitledTypes(policies: PolicySet, identity: EntitledIdentity): string[] {
  const types = new Set(identity.agentTypes);
  for (const grant of policies.grants ?? []) {
    if (grant.types.length > 0 && callerMatches(grant.callers, identity.uri)) {
      for (const type of grant.types) types.add(type);
    }
  }
  return [...types];
}

/**
 * The most urgent priority class the grants give a caller (with its entitled `types`): `default` without a grant.
 * A caller asking for more runs at this; asking for less (`batch`) is always allowed.
 */
export function grantedPriority(
  policies: PolicySet,
  caller: { uri: string; types: readonly string[] },
): PriorityClass {
  let granted: PriorityClass = 'default';
  for (const grant of policies.grants ?? []) {
    if (grant.priority === '' || !callerMatches(grant.callers, caller.uri)) continue;
    if (grant.callerTypes.length > 0 && !grant.callerTypes.some((type) => caller.types.includes(type)))
      continue;
    if (moreUrgent(grant.priority, granted)) granted = grant.priority;
  }
  return granted;
}

function callerMatches(patterns: readonly string[], uri: string): boolean {
  return patterns.length === 0 || patterns.some((pattern) => globMatches(pattern, uri));
}

/** A per-caller rate limit on invoke calls (see the `RateLimit` message). */
export interface RateLimit {
  id: string;
  callers: string[];
  callerTypes: string[];
  targetTypes: string[];
  methods: string[];
  /** Calls per second per caller; 0: not limited. */
  requestsPerSecond: number;
  /** Burst of calls; 0: one second's worth. */
  burst: number;
  /** Tokens per minute per caller, as handlers report them; 0: not limited. */
  tokensPerMinute: number;
}

/** Whether `limit` applies to an invoke call. */
export function rateLimitMatches(
  limit: RateLimit,
  request: { caller: string; callerTypes?: readonly string[]; targetType: string; method: string },
): boolean {
  return ruleMatches(
    { ...limit, effect: 'allow', actions: ['invoke'], topics: [] },
    { action: 'invoke', ...request },
  );
}

/** A request to authorize: the caller's SPIFFE ID and entitled agent types ({@link entitledTypes}). */
export type AccessRequest = { caller: string; callerTypes?: readonly string[] } & (
  | { action: 'invoke'; targetType: string; method: string }
  | { action: 'publish'; topic: string }
  | { action: 'subscribe'; pattern: string }
);

/** The outcome and the rule that decided it (undefined when the default applied). */
export interface AccessDecision {
  allowed: boolean;
  ruleId?: string;
}

/** Everything is allowed: the default until an operator sets policies. */
export const ALLOW_ALL: PolicySet = Object.freeze({ defaultEffect: 'allow', rules: [] });

const RULE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const ACTIONS: ReadonlySet<string> = new Set(['invoke', 'publish', 'subscribe']);

function globMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .join('[^/]*')}$`,
  );
  return regex.test(value);
}

function ruleMatches(rule: PolicyRule, request: AccessRequest): boolean {
  if (rule.actions.length > 0 && !rule.actions.includes(request.action)) return false;
  if (!callerMatches(rule.callers, request.caller)) return false;
  const types = request.callerTypes ?? [];
  if (rule.callerTypes.length > 0 && !rule.callerTypes.some((type) => types.includes(type))) return false;
  switch (request.action) {
    case 'invoke':
      if (rule.targetTypes.length > 0 && !rule.targetTypes.includes(request.targetType)) return false;
      if (
        rule.methods.length > 0 &&
        !rule.methods.some((m) =>
          m.endsWith('*') ? request.method.startsWith(m.slice(0, -1)) : m === request.method,
        )
      ) {
        return false;
      }
      return true;
    case 'publish':
      return rule.topics.length === 0 || rule.topics.some((pattern) => matchesTopic(pattern, request.topic));
    case 'subscribe':
      return (
        rule.topics.length === 0 || rule.topics.some((pattern) => patternCovers(pattern, request.pattern))
      );
  }
}

/** Decides a request: a matching deny rule refuses it, else a matching allow rule permits it, else the default. */
export function authorize(policies: PolicySet, request: AccessRequest): AccessDecision {
  let allowedBy: string | undefined;
  for (const rule of policies.rules) {
    if (!ruleMatches(rule, request)) continue;
    if (rule.effect === 'deny') return { allowed: false, ruleId: rule.id };
    allowedBy ??= rule.id;
  }
  if (allowedBy !== undefined) return { allowed: true, ruleId: allowedBy };
  return { allowed: policies.defaultEffect === 'allow' };
}

/**
 * The topic patterns that decide what `caller` may publish (or subscribe to), as allow and deny lists with
 * {@link authorize}'s meaning: a topic is allowed when some `allow` pattern matches it and no `deny` pattern does.
 * With a default of allow, `allow` is `['>']`. For enforcement outside the mesh, e.g. a message broker's
 * per-user permissions, which use the same wildcards.
 */
export function topicPermissions(
  policies: PolicySet,
  caller: { uri: string; types: readonly string[] },
  action: 'publish' | 'subscribe',
): { allow: string[]; deny: string[] } {
  const allow = new Set<string>(policies.defaultEffect === 'allow' ? ['>'] : []);
  const deny = new Set<string>();
  for (const rule of policies.rules) {
    if (rule.actions.length > 0 && !rule.actions.includes(action)) continue;
    if (!callerMatches(rule.callers, caller.uri)) continue;
    if (rule.callerTypes.length > 0 && !rule.callerTypes.some((type) => caller.types.includes(type)))
      continue;
    for (const pattern of rule.topics.length > 0 ? rule.topics : ['>']) {
      (rule.effect === 'deny' ? deny : allow).add(pattern);
    }
  }
  return { allow: allow.has('>') ? ['>'] : [...allow], deny: [...deny] };
}

/** Checks a policy set: unique rule ids, known actions and effects, valid topic patterns. */
export function validatePolicySet(policies: PolicySet): Result<PolicySet> {
  const bad = (why: string) => fail(Code.INVALID_ARGUMENT, `invalid policies: ${why}`);
  if (policies.defaultEffect !== 'allow' && policies.defaultEffect !== 'deny') {
    return bad('the default effect must be "allow" or "deny"');
  }
  const ids = new Set<string>();
  for (const rule of policies.rules) {
    if (!RULE_ID.test(rule.id))
      return bad(`rule id ${quote(rule.id)} must be 1-64 letters, digits, ".", "_" or "-"`);
    if (ids.has(rule.id)) return bad(`rule id ${quote(rule.id)} is used twice`);
    ids.add(rule.id);
    if (rule.effect !== 'allow' && rule.effect !== 'deny')
      return bad(`rule ${quote(rule.id)}: effect must be allow or deny`);
    const action = rule.actions.find((a) => !ACTIONS.has(a));
    if (action !== undefined)
      return bad(`rule ${quote(rule.id)}: unknown action ${quote(action)} (invoke, publish, subscribe)`);
    const caller = rule.callers.find((c) => !c.startsWith('spiffe://'));
    if (caller !== undefined)
      return bad(`rule ${quote(rule.id)}: caller pattern ${quote(caller)} must start with spiffe://`);
    for (const topic of rule.topics) {
      const valid = validatePattern(topic);
      if (!valid.ok) return bad(`rule ${quote(rule.id)}: ${valid.error.message}`);
    }
  }
  const limitIds = new Set<string>();
  for (const limit of policies.rateLimits ?? []) {
    if (!RULE_ID.test(limit.id))
      return bad(`rate limit id ${quote(limit.id)} must be 1-64 letters, digits, ".", "_" or "-"`);
    if (limitIds.has(limit.id)) return bad(`rate limit id ${quote(limit.id)} is used twice`);
    limitIds.add(limit.id);
    const caller = limit.callers.find((c) => !c.startsWith('spiffe://'));
    if (caller !== undefined)
      return bad(`rate limit ${quote(limit.id)}: caller pattern ${quote(caller)} must start with spiffe://`);
    for (const [name, value] of [
      ['requests per second', limit.requestsPerSecond],
      ['burst', limit.burst],
      ['tokens per minute', limit.tokensPerMinute],
    ] as const) {
      if (!Number.isFinite(value) || value < 0)
        return bad(`rate limit ${quote(limit.id)}: ${name} must be 0 or more`);
    }
    if (limit.requestsPerSecond === 0 && limit.tokensPerMinute === 0) {
      return bad(`rate limit ${quote(limit.id)} limits nothing: give requestsPerSecond or tokensPerMinute`);
    }
  }
  const revoked = (policies.revokedIdentities ?? []).find((pattern) => !pattern.startsWith('spiffe://'));
  if (revoked !== undefined)
    return bad(`revoked identity pattern ${quote(revoked)} must start with spiffe://`);
  const grantIds = new Set<string>();
  for (const grant of policies.grants ?? []) {
    const where = `grant ${quote(grant.id, 64)}`;
    if (!RULE_ID.test(grant.id)) return bad(`${where}: its id must be 1-64 letters, digits, ".", "_" or "-"`);
    if (grantIds.has(grant.id)) return bad(`${where} is used twice`);
    grantIds.add(grant.id);
    const caller = grant.callers.find((c) => !c.startsWith('spiffe://'));
    if (caller !== undefined)
      return bad(`${where}: caller pattern ${quote(caller)} must start with spiffe://`);
    for (const type of [...grant.types, ...grant.callerTypes]) {
      const valid = validateAgentType(type);
      if (!valid.ok) return bad(`${where}: ${valid.error.message}`);
    }
    if (grant.priority !== '' && !isPriorityClass(grant.priority)) {
      return bad(`${where}: priority ${quote(grant.priority)} must be one of ${PRIORITY_CLASSES.join(', ')}`);
    }
    if (grant.types.length === 0 && grant.priority === '') {
      return bad(`${where} grants nothing: give types or a priority`);
    }
    if (grant.types.length > 0 && grant.callerTypes.length > 0) {
      return bad(`${where}: a grant of types selects identities by callers only (types do not grant types)`);
    }
    if (grant.types.length > 0 && grant.callers.length === 0) {
      return bad(`${where}: a grant of types must name its callers (SPIFFE ID patterns)`);
    }
  }
  return ok(policies);
}
