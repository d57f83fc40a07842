import { offersSkill, type AgentRecord } from '../control-plane/agent-record.js';
import type { ControlPlaneClient, WatchHandle, WatchMessage } from '../control-plane/client.js';
import { matchesLabels, parseLabelSelector, type LabelSelector } from '../control-plane/label-selector.js';
import { ALLOW_ALL, type PolicySet } from '../control-plane/policy.js';
import { Code, MeshError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { backoffDelay } from './retry-budget.js';

/** Which agents a call may go to: a type, capabilities (all required), and a label selector. */
export interface TargetQuery {
  type?: string;
  capabilities?: readonly string[];
  labelSelector?: string;
  /** Only agents offering the skill (tool) with this id, and a skill with this tag. */
  skill?: string;
  skillTag?: string;
}

/** Options for {@link EndpointCache}. */
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

export interface EndpointCacheOptions {
  client: ControlPlaneClient;
  logger: Logger;
  random?: () => number;
}

/**
 * The data plane's copy of the registry, fed by the control plane's watch stream: no control-plane round trip per
 * call. When the control plane is unreachable, the last known endpoints stay in use (static stability) while the
 * cache reconnects with backoff and resumes the watch from its last revision.
 */
export class EndpointCache {
  private readonly agents = new Map<string, AgentRecord>();
  private readonly selectors = new Map<string, LabelSelector>();
  private readonly listeners = new Set<() => void>();
  private policySet: PolicySet = ALLOW_ALL;
  private revision = 0;
  private watch: WatchHandle | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private closed = false;
  private ready: Promise<void>;
  private markReady!: () => void;

  constructor(private readonly options: EndpointCacheOptions) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  /** Starts following the control plane; resolves once the first snapshot has arrived. */
  start(): Promise<void> {
    this.connect();
    return this.ready;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.watch?.cancel();
  }

  /** The latest revision applied. */
  get currentRevision(): number {
    return this.revision;
  }

  /** The authorization policies last received. */
  get policies(): PolicySet {
    return this.policySet;
  }

  /** Calls `listener` after every change. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One agent by id, whatever its health. */
  get(id: string): AgentRecord | undefined {
    return this.agents.get(id);
  }

  /** Every known agent, whatever its health. */
  all(): IterableIterator<AgentRecord> {
    return this.agents.values();
  }

  /**
   * The healthy agents that match a query, ordered by id.
   * @throws MeshError INVALID_ARGUMENT for an invalid label selector.
   */
  select(query: TargetQuery): AgentRecord[] {
    const selector = query.labelSelector ? this.selector(query.labelSelector) : undefined;
    const found: AgentRecord[] = [];
    for (const agent of this.agents.values()) {
      if (agent.health !== 'healthy') continue;
      if (query.type && agent.spec.type !== query.type) continue;
      if (query.capabilities && !query.capabilities.every((c) => agent.spec.capabilities.includes(c)))
        continue;
      if (selector && !matchesLabels(selector, agent.spec.labels)) continue;
      if ((query.skill || query.skillTag) && !offersSkill(agent.spec, query.skill, query.skillTag)) continue;
      found.push(agent);
    }
    return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private selector(text: string): LabelSelector {
    let selector = this.selectors.get(text);
    if (!selector) {
      const parsed = parseLabelSelector(text);
      if (!parsed.ok) throw new MeshError(Code.INVALID_ARGUMENT, parsed.error.message);
      selector = parsed.value;
      this.selectors.set(text, selector);
    }
    return selector;
  }

  private connect(): void {
    if (this.closed) return;
    this.watch = this.options.client.watch(
      this.revision,
      (message) => this.apply(message),
      (error) => {
        if (this.closed) return;
        // Keep serving from what we have; come back with the last revision we saw.
        this.attempts += 1;
        const delay = 100 + backoffDelay(this.attempts, this.options.random, 200, 5_000);
        this.options.logger.warn(
          { err: error, retryInMs: Math.round(delay), revision: this.revision },
          'control plane watch lost; using the last known endpoints',
        );
        this.retryTimer = setTimeout(() => this.connect(), delay);
        this.retryTimer.unref();
      },
    );
  }

  private apply(message: WatchMessage): void {
    this.attempts = 0;
    switch (message.kind) {
      case 'snapshot':
        this.agents.clear();
        for (const agent of message.agents) this.agents.set(agent.id, agent);
        this.policySet = message.policies;
        this.markReady();
        break;
      case 'agent':
        if (message.type === 'delete') this.agents.delete(message.record.id);
        else this.agents.set(message.record.id, message.record);
        break;
      case 'policies':
        this.policySet = message.policies;
        break;
      case 'progress':
        break;
    }
    this.revision = Math.max(this.revision, message.revision);
    if (message.kind !== 'progress') for (const listener of this.listeners) listener();
  }
}
