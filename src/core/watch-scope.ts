import { offersSkill, type AgentRecord } from './agent-record.js';
import { Code, fail, ok, truncateInput, type Result } from './errors.js';
import { matchesLabels, parseLabelSelector, type LabelSelector } from './label-selector.js';
import { patternsOverlap, validatePattern } from './topic.js';

/** Which agents a call may go to: a type, capabilities (all required), and a label selector. */
export interface TargetQuery {
  type?: string;
  capabilities?: readonly string[];
  labelSelector?: string;
  /** Only agents offering the skill (tool) with this id, and a skill with this tag. */
  skill?: string;
  skillTag?: string;
}

/** A query in words, for errors: "type summarizer, labels zone=eu", or "any agent". */
export function describeQuery(query: TargetQuery): string {
  const parts = [
    query.type ? `type ${query.type}` : '',
    query.capabilities?.length ? `capabilities ${query.capabilities.join(', ')}` : '',
    query.labelSelector ? `labels ${query.labelSelector}` : '',
    query.skill ? `skill ${query.skill}` : '',
    query.skillTag ? `skill tag ${query.skillTag}` : '',
  ].filter(Boolean);
  return parts.join(', ') || 'any agent';
}

/** One string per distinct query: two queries that select the same agents by the same fields share it. */
export function queryKey(query: TargetQuery): string {
  const capabilities = [...(query.capabilities ?? [])].sort().join(',');
  return `${query.type ?? ''}|${capabilities}|${query.labelSelector ?? ''}|${query.skill ?? ''}|${query.skillTag ?? ''}`;
}

/**
 * Whether `record` is one of the agents `query` selects, whatever its health (`selector` is the query's label
 * selector, already parsed).
 */
export function matchesQuery(
  record: AgentRecord,
  query: TargetQuery,
  selector: LabelSelector | undefined,
): boolean {
  const { spec } = record;
  if (query.type && spec.type !== query.type) return false;
  if (query.capabilities && !query.capabilities.every((c) => spec.capabilities.includes(c))) return false;
  if (selector && !matchesLabels(selector, spec.labels)) return false;
  if ((query.skill || query.skillTag) && !offersSkill(spec, query.skill, query.skillTag)) return false;
  return true;
}

/**
 * What one watcher of the registry needs: the agents matching any of its target queries, the agents it names
 * (itself, its callers), and the agents whose subscriptions match a topic (or topic pattern) it publishes to.
 */
export interface WatchScope {
  targets: readonly TargetQuery[];
  agentIds: readonly string[];
  topics: readonly string[];
}

/** The most entries of each kind one scope may hold: a watcher that needs more watches everything. */
export const SCOPE_LIMITS = { targets: 256, agentIds: 4_096, topics: 256 } as const;

/**
 * A scope, checked and compiled for matching records against it.
 * @throws nothing: see {@link compileScope}.
 */
export class ScopeMatcher {
  private readonly ids: ReadonlySet<string>;

  constructor(
    readonly scope: WatchScope,
    readonly targets: ReadonlyArray<{ query: TargetQuery; selector: LabelSelector | undefined }>,
  ) {
    this.ids = new Set(scope.agentIds);
  }

  /** The types that every target query names, or undefined when one names no type (it may match any type). */
  typesNamed(): string[] | undefined {
    const types = new Set<string>();
    for (const { query } of this.targets) {
      if (!query.type) return undefined;
      types.add(query.type);
    }
    return [...types];
  }

  /** Whether the scope holds `record`, whatever its health. */
  matches(record: AgentRecord): boolean {
    if (this.ids.has(record.id)) return true;
    for (const { query, selector } of this.targets) if (matchesQuery(record, query, selector)) return true;
    if (this.scope.topics.length > 0) {
      for (const subscription of record.spec.subscriptions) {
        for (const topic of this.scope.topics) if (patternsOverlap(subscription.pattern, topic)) return true;
      }
    }
    return false;
  }
}

/**
 * Checks a scope (within {@link SCOPE_LIMITS}; valid label selectors, ids and topic patterns) and compiles it.
 * INVALID_ARGUMENT naming the first entry at fault otherwise.
 */
export function compileScope(scope: WatchScope): Result<ScopeMatcher> {
  const bad = (why: string) => fail(Code.INVALID_ARGUMENT, `invalid watch scope: ${why}`);
  if (scope.targets.length > SCOPE_LIMITS.targets)
    return bad(
      `${scope.targets.length} target queries, more than ${SCOPE_LIMITS.targets}: watch everything instead`,
    );
  if (scope.agentIds.length > SCOPE_LIMITS.agentIds)
    return bad(`${scope.agentIds.length} agent ids, more than ${SCOPE_LIMITS.agentIds}`);
  if (scope.topics.length > SCOPE_LIMITS.topics)
    return bad(
      `${scope.topics.length} topics, more than ${SCOPE_LIMITS.topics}: use a pattern such as tasks.>`,
    );
  const targets: Array<{ query: TargetQuery; selector: LabelSelector | undefined }> = [];
  for (const query of scope.targets) {
    let selector: LabelSelector | undefined;
    if (query.labelSelector) {
      const parsed = parseLabelSelector(query.labelSelector);
      if (!parsed.ok) return bad(parsed.error.message);
      selector = parsed.value;
    }
    targets.push({ query, selector });
  }
  for (const id of scope.agentIds) {
    if (id === '' || id.length > 253) return bad(`agent id "${truncateInput(id)}" is empty or too long`);
  }
  for (const topic of scope.topics) {
    const valid = validatePattern(topic);
    if (!valid.ok) return bad(valid.error.message);
  }
  return ok(new ScopeMatcher(scope, targets));
}
