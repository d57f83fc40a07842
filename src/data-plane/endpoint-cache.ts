import { Backoff, type BackoffSettings } from '../core/backoff.js';
import { offersSkill, type AgentRecord } from '../core/agent-record.js';
import type { ControlPlaneClient, WatchHandle, WatchMessage } from '../control-plane/client.js';
import { matchesLabels, parseLabelSelector, type LabelSelector } from '../core/label-selector.js';
import { ALLOW_ALL, isRevoked, type PolicySet } from '../core/policy.js';
import { Code, MeshError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';

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

/** Options for {@link EndpointCache}. */
export interface EndpointCacheOptions {
  client: ControlPlaneClient;
  logger: Logger;
  random?: () => number;
  /** How the watch reconnects (default: 100 ms doubling to 5 s, jittered). */
  backoff?: Partial<BackoffSettings>;
  /** A watch that lasted this long resets the backoff when it ends (default 10 s). */
  stableMs?: number;
}

/** What a change to the cache was: listeners that care only about membership can skip load reports. */
export type CacheChange = 'snapshot' | 'agent' | 'load' | 'policies';

/**
 * The data plane's copy of the registry, fed by the control plane's watch stream: no control-plane round trip per
 * call. When the control plane is unreachable, the last known endpoints stay in use (static stability) while the
 * cache reconnects with backoff and resumes the watch from its last revision.
 */
export class EndpointCache {
  private readonly agents = new Map<string, AgentRecord>();
  private readonly selectors = new Map<string, LabelSelector>();
  private readonly listeners = new Set<(change: CacheChange, agentId?: string) => void>();
  private policySet: PolicySet = ALLOW_ALL;
  /** Whether the policies held were ever set by an operator (and not just the default of a fresh store). */
  private policiesSet = false;
  private revision = 0;
  /** The agents of the last snapshot when it was partial (the cache then holds others too). */
  private partialSnapshot: ReadonlySet<string> | undefined;
  private watch: WatchHandle | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private closed = false;
  private ready: Promise<void>;
  private markReady!: () => void;

  constructor(private readonly options: EndpointCacheOptions) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.backoff = new Backoff(options.backoff, options.random);
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

  /** Calls `listener` after every change, saying what kind it was (and, for one agent's change, whose). */
  onChange(listener: (change: CacheChange, agentId?: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One agent by id, whatever its health. */
  get(id: string): AgentRecord | undefined {
    return this.agents.get(id);
  }

  /**
   * Whether the last snapshot listed agent `id` (not only this cache, which keeps what a partial snapshot lacks):
   * an agent that finds itself missing knows the control plane lost its registration.
   */
  snapshotIncludes(id: string): boolean {
    return this.partialSnapshot ? this.partialSnapshot.has(id) : this.agents.has(id);
  }

  /** Every known agent, whatever its health. */
  all(): IterableIterator<AgentRecord> {
    return this.agents.values();
  }

  /**
   * The healthy agents that match a query, ordered by id; never one whose identity the policies revoked.
   * @throws MeshError INVALID_ARGUMENT for an invalid label selector.
   */
  select(query: TargetQuery): AgentRecord[] {
    const selector = query.labelSelector ? this.selector(query.labelSelector) : undefined;
    const found: AgentRecord[] = [];
    // A revoked identity is never a target, even before the control plane has removed its registration.
    const revoked = (this.policies.revokedIdentities?.length ?? 0) > 0;
    for (const agent of this.agents.values()) {
      if (agent.health !== 'healthy') continue;
      if (revoked && isRevoked(this.policies, agent.spiffeId)) continue;
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

  /**
   * Opens the watch: at most one is open or waiting to reconnect at any time. When it ends, the next one starts
   * after a backoff (reset when the stream had been up for a stable period), from the last revision applied.
   */
  private connect(): void {
    if (this.closed || this.watch || this.retryTimer) return;
    const openedAt = Date.now();
    const ended = () => {
      this.watch = undefined;
      if (this.closed) return;
      // Keep serving from what we have; the client logs the outage (once, then summaries).
      if (Date.now() - openedAt >= (this.options.stableMs ?? 10_000)) this.backoff.reset();
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.connect();
      }, this.backoff.next());
      this.retryTimer.unref();
    };
    try {
      this.watch = this.options.client.watch(this.revision, (message) => this.apply(message), ended);
    } catch (error) {
      // The client was closed under the cache: there is nothing left to follow.
      this.options.logger.warn(
        { err: error },
        'cannot watch the control plane any more; the cache stops following it',
      );
    }
  }

  private apply(message: WatchMessage): void {
    switch (message.kind) {
      case 'snapshot':
        this.applySnapshot(message);
        break;
      case 'agent':
        if (message.type === 'delete') this.agents.delete(message.record.id);
        else this.agents.set(message.record.id, message.record);
        break;
      case 'load': {
        const record = this.agents.get(message.agentId);
        if (record) this.agents.set(record.id, { ...record, load: message.load });
        break;
      }
      case 'policies':
        this.policySet = message.policies;
        this.policiesSet = true;
        break;
      case 'progress':
        break;
    }
    this.revision = Math.max(this.revision, message.revision);
    if (message.kind === 'progress') return;
    const agentId =
      message.kind === 'load' ? message.agentId : message.kind === 'agent' ? message.record.id : undefined;
    for (const listener of this.listeners) listener(message.kind, agentId);
  }

  /**
   * A complete snapshot replaces what the cache held. A partial one (a control plane that restarted with an empty
   * store, still hearing from agents) only adds: agents it lacks stay routable until a complete snapshot or their
   * own deletion says they are gone. Policies that were set stay in force when a snapshot brings none that were
   * (an in-memory control plane that restarted lost them): the mesh does not fall open to allow-all.
   */
  private applySnapshot(message: Extract<WatchMessage, { kind: 'snapshot' }>): void {
    if (!message.partial) this.agents.clear();
    this.partialSnapshot = message.partial ? new Set(message.agents.map((agent) => agent.id)) : undefined;
    for (const agent of message.agents) this.agents.set(agent.id, agent);
    if (message.policiesSet || !this.policiesSet) {
      this.policySet = message.policies;
      this.policiesSet = message.policiesSet;
    }
    // A snapshot always moves the cache to the new stream's revisions, even backwards (a new control plane).
    this.revision = message.revision;
    this.markReady();
  }
}
