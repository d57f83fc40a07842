import { Backoff, type BackoffSettings } from '../core/backoff.js';
import type { AgentRecord } from '../core/agent-record.js';
import type { ControlPlaneClient, WatchHandle, WatchMessage } from '../control-plane/client.js';
import { parseLabelSelector, type LabelSelector } from '../core/label-selector.js';
import {
  compileScope,
  matchesQuery,
  queryKey,
  SCOPE_LIMITS,
  type ScopeMatcher,
  type TargetQuery,
  type WatchScope,
} from '../core/watch-scope.js';
import { ALLOW_ALL, isRevoked, type PolicySet } from '../core/policy.js';
import { Code, MeshError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';

export { describeQuery, type TargetQuery } from '../core/watch-scope.js';

/** Options for {@link EndpointCache}. */
export interface EndpointCacheOptions {
  client: ControlPlaneClient;
  logger: Logger;
  random?: () => number;
  /** How the watch reconnects (default: 100 ms doubling to 5 s, jittered). */
  backoff?: Partial<BackoffSettings>;
  /** A watch that lasted this long resets the backoff when it ends (default 10 s). */
  stableMs?: number;
  /**
   * Follow only part of the registry: these entries to start with, widened on demand ({@link EndpointCache.cover},
   * {@link EndpointCache.coverTopic}, {@link EndpointCache.coverAgent}). Without it the cache holds every agent,
   * which costs every process memory and bandwidth in proportion to the whole mesh.
   */
  scope?: Partial<WatchScope>;
  /**
   * How long a widening of the scope waits for the control plane before the caller goes on with what the cache
   * holds (default 5 s): while the control plane is unreachable, a new query finds no agents.
   */
  coverTimeoutMs?: number;
}

/** What a change to the cache was: listeners that care only about membership can skip load reports. */
export type CacheChange = 'snapshot' | 'agent' | 'load' | 'policies';

/** A caller waiting until the cache is at `at` (a scope version, or a revision). */
interface Waiter {
  at: number;
  done: () => void;
}

/** Waits in `waiters` until released (`done`), or for `timeoutMs` at most. */
function park(waiters: Set<Waiter>, at: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const waiter: Waiter = {
      at,
      done: () => {
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve();
      },
    };
    const timer = setTimeout(waiter.done, timeoutMs);
    timer.unref();
    waiters.add(waiter);
  });
}

/** One watch stream the cache opened, and the version of the scope it was opened with. */
interface Stream {
  handle: WatchHandle | undefined;
  version: number;
  openedAt: number;
  /** Set once the cache stops listening to it (replaced, or closed). */
  dropped: boolean;
}

/**
 * The data plane's copy of the registry, fed by the control plane's watch stream: no control-plane round trip per
 * call. When the control plane is unreachable, the last known endpoints stay in use (static stability) while the
 * cache reconnects with backoff and resumes the watch from its last revision.
 *
 * With a scope, it holds only the agents the process needs: those matching the queries it calls, those it names
 * (itself, its callers) and the subscribers of the topics it publishes to. A query, topic or agent not in the scope
 * yet widens it on first use: the cache opens a watch with the wider scope and moves to it when its snapshot has
 * arrived (the old one serves meanwhile). A scope that outgrows {@link SCOPE_LIMITS} watches everything instead.
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
  /** The stream whose messages the cache applies. */
  private live: Stream | undefined;
  /** A stream with a wider scope, waiting for its snapshot to replace {@link live}. */
  private widening: Stream | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private widenTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  /** How a wider stream that failed is tried again (apart from the live stream's reconnections). */
  private readonly widenBackoff: Backoff;
  /** The scope compiled, for the version it was compiled at. */
  private matcher: { version: number; matcher: ScopeMatcher | undefined } | undefined;
  /** The version at which the scope became the whole registry. */
  private everything: number | undefined;
  private closed = false;
  private ready: Promise<void>;
  private markReady!: () => void;
  /** Undefined: the whole registry. Otherwise what the scope holds, each entry with the version that added it. */
  private scope:
    { targets: Map<string, TargetQuery>; agentIds: Set<string>; topics: Set<string> } | undefined;
  private readonly added = new Map<string, number>();
  private scopeVersion = 0;
  /** The version of the scope whose snapshot the cache holds. */
  private appliedVersion = -1;
  /** Callers waiting for a version of the scope, and for a revision. */
  private readonly waiters = new Set<Waiter>();
  private readonly revisionWaiters = new Set<Waiter>();
  private warnedIds = false;

  constructor(private readonly options: EndpointCacheOptions) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.backoff = new Backoff(options.backoff, options.random);
    this.widenBackoff = new Backoff(options.backoff, options.random);
    if (options.scope) {
      const checked = compileScope({
        targets: options.scope.targets ?? [],
        agentIds: options.scope.agentIds ?? [],
        topics: options.scope.topics ?? [],
      });
      if (!checked.ok) throw checked.error;
      this.scope = { targets: new Map(), agentIds: new Set(), topics: new Set() };
      for (const query of options.scope.targets ?? []) this.addEntry('target', query);
      for (const id of options.scope.agentIds ?? []) this.addEntry('agent', id);
      for (const topic of options.scope.topics ?? []) this.addEntry('topic', topic);
    }
  }

  /** Starts following the control plane; resolves once the first snapshot has arrived. */
  start(): Promise<void> {
    this.connect();
    return this.ready;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.widenTimer);
    for (const stream of [this.live, this.widening]) this.drop(stream);
    for (const waiter of [...this.waiters, ...this.revisionWaiters]) waiter.done();
  }

  /** The latest revision applied. */
  get currentRevision(): number {
    return this.revision;
  }

  /** The authorization policies last received. */
  get policies(): PolicySet {
    return this.policySet;
  }

  /**
   * Resolves once the cache has applied `revision` (a write's, so that a process reads its own writes back), or
   * after `timeoutMs`, or when the cache closes.
   */
  reached(revision: number, timeoutMs = 5_000): Promise<void> {
    if (this.revision >= revision || this.closed) return Promise.resolve();
    return park(this.revisionWaiters, revision, timeoutMs);
  }

  /** What the cache follows: undefined for the whole registry. */
  get watchScope(): WatchScope | undefined {
    if (!this.scope) return undefined;
    return {
      targets: [...this.scope.targets.values()],
      agentIds: [...this.scope.agentIds],
      topics: [...this.scope.topics],
    };
  }

  /**
   * Makes sure the cache holds the agents `query` selects: undefined when it does already, else a promise that
   * resolves once it does (or after the cover timeout, or when the cache closes).
   * @throws MeshError INVALID_ARGUMENT for an invalid label selector.
   */
  cover(query: TargetQuery, timeoutMs?: number): Promise<void> | undefined {
    if (query.labelSelector) this.selector(query.labelSelector);
    return this.need('target', query, timeoutMs);
  }

  /** Makes sure the cache holds the subscribers of `topic` (a topic or a pattern); see {@link cover}. */
  coverTopic(topic: string, timeoutMs?: number): Promise<void> | undefined {
    return this.need('topic', topic, timeoutMs);
  }

  /** Makes sure the cache holds agent `id` when it is registered; see {@link cover}. */
  coverAgent(id: string, timeoutMs?: number): Promise<void> | undefined {
    return this.need('agent', id, timeoutMs);
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
   * The healthy agents that match a query, ordered by id; never one whose identity the policies revoked. A scoped
   * cache asked about a query it does not follow starts following it (see {@link cover}): the answer holds its
   * agents once the control plane has sent them.
   * @throws MeshError INVALID_ARGUMENT for an invalid label selector.
   */
  select(query: TargetQuery): AgentRecord[] {
    const selector = query.labelSelector ? this.selector(query.labelSelector) : undefined;
    if (this.scope) void this.need('target', query);
    const found: AgentRecord[] = [];
    // A revoked identity is never a target, even before the control plane has removed its registration.
    const revoked = (this.policies.revokedIdentities?.length ?? 0) > 0;
    for (const agent of this.agents.values()) {
      if (agent.health !== 'healthy') continue;
      if (revoked && isRevoked(this.policies, agent.spiffeId)) continue;
      if (!matchesQuery(agent, query, selector)) continue;
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

  /** The entry's key among {@link added}. */
  private static keyOf(kind: 'target' | 'agent' | 'topic', entry: TargetQuery | string): string {
    return `${kind}:${typeof entry === 'string' ? entry : queryKey(entry)}`;
  }

  /** Adds an entry to the scope (when it has room); returns the version of the scope that holds it. */
  private addEntry(kind: 'target' | 'agent' | 'topic', entry: TargetQuery | string): number | undefined {
    const scope = this.scope;
    if (!scope) return undefined;
    const key = EndpointCache.keyOf(kind, entry);
    const known = this.added.get(key);
    if (known !== undefined) return known;
    // An entry the control plane would refuse (a peer's overlong name, say) would get every wider watch refused.
    const checked = compileScope({
      targets: kind === 'target' ? [entry as TargetQuery] : [],
      agentIds: kind === 'agent' ? [entry as string] : [],
      topics: kind === 'topic' ? [entry as string] : [],
    });
    if (!checked.ok) return undefined;
    if (kind === 'target') {
      if (scope.targets.size >= SCOPE_LIMITS.targets) {
        // More queries than a scope holds: follow everything from now on.
        this.options.logger.info(
          { queries: scope.targets.size },
          'more target queries than a watch scope holds: following the whole registry',
        );
        this.scope = undefined;
        this.scopeVersion += 1;
        this.added.set(key, this.scopeVersion);
        this.everything = this.scopeVersion;
        return this.scopeVersion;
      }
      scope.targets.set(key, entry as TargetQuery);
    } else if (kind === 'agent') {
      if (scope.agentIds.size >= SCOPE_LIMITS.agentIds) {
        if (!this.warnedIds) {
          this.warnedIds = true;
          this.options.logger.warn(
            { agents: scope.agentIds.size },
            'more named agents than a watch scope holds: further callers are known by their certificates only',
          );
        }
        return undefined;
      }
      scope.agentIds.add(entry as string);
    } else {
      if (scope.topics.size >= SCOPE_LIMITS.topics) {
        // More topics than a scope holds: the subscribers of every topic.
        scope.topics.clear();
        scope.topics.add('>');
        this.scopeVersion += 1;
        this.added.set(EndpointCache.keyOf('topic', '>'), this.scopeVersion);
        return this.scopeVersion;
      }
      scope.topics.add(entry as string);
    }
    this.scopeVersion += 1;
    this.added.set(key, this.scopeVersion);
    return this.scopeVersion;
  }

  private need(
    kind: 'target' | 'agent' | 'topic',
    entry: TargetQuery | string,
    timeoutMs?: number,
  ): Promise<void> | undefined {
    if (this.closed) return undefined;
    // Whole registry: nothing to add; what was followed before stays at hand, the rest comes with the whole.
    const version = !this.scope
      ? (this.added.get(EndpointCache.keyOf(kind, entry)) ?? this.everything ?? this.scopeVersion)
      : kind === 'topic' && this.scope.topics.has('>')
        ? this.added.get(EndpointCache.keyOf('topic', '>'))
        : this.addEntry(kind, entry);
    if (version === undefined || version <= this.appliedVersion) return undefined;
    this.scheduleWidening();
    // Never longer than the cover timeout, nor past the caller's own deadline.
    const most = this.options.coverTimeoutMs ?? 5_000;
    return park(this.waiters, version, Math.max(0, Math.min(most, timeoutMs ?? most)));
  }

  /** Widens the watch soon: entries added in the same turn of the event loop share one new stream. */
  private scheduleWidening(): void {
    if (this.widenTimer) return;
    this.widenTimer = setTimeout(() => {
      this.widenTimer = undefined;
      this.widen();
    }, 0);
    this.widenTimer.unref();
  }

  /**
   * Opens a watch with the scope as it is now, unless one is opening already or the cache is between streams (it
   * reconnects with the latest scope).
   */
  private widen(): void {
    // One wider stream at a time: entries added while it opens go with the next one, once it has landed (dropping
    // it for a wider one could starve the cache when entries keep coming).
    if (this.closed || !this.live || this.widening) return;
    if (this.live.version === this.scopeVersion) return;
    const stream = this.open(0);
    this.widening = stream;
    if (!stream.handle) this.widening = undefined;
  }

  /**
   * Opens the watch: at most one is open or waiting to reconnect at any time. When it ends, the next one starts
   * after a backoff (reset when the stream had been up for a stable period), from the last revision applied when
   * its scope is the one the cache holds, else from a snapshot.
   */
  private connect(): void {
    if (this.closed || this.live || this.retryTimer) return;
    this.live = this.open(this.appliedVersion === this.scopeVersion ? this.revision : 0);
    if (!this.live.handle) this.live = undefined;
  }

  /** A watch stream with the current scope, from `since`. */
  private open(since: number): Stream {
    const stream: Stream = {
      handle: undefined,
      version: this.scopeVersion,
      openedAt: Date.now(),
      dropped: false,
    };
    const ended = () => {
      if (stream.dropped) return;
      stream.dropped = true;
      if (stream === this.widening) {
        // The wider stream failed before its snapshot: its callers go on with what the cache holds, and the
        // widening is tried again later, the live stream serving meanwhile.
        this.widening = undefined;
        for (const waiter of this.waiters) if (waiter.at <= stream.version) waiter.done();
        clearTimeout(this.widenTimer);
        this.widenTimer = setTimeout(() => {
          this.widenTimer = undefined;
          this.widen();
        }, this.widenBackoff.next());
        this.widenTimer.unref();
        return;
      }
      this.live = undefined;
      this.drop(this.widening);
      this.widening = undefined;
      if (this.closed) return;
      // Keep serving from what we have; the client logs the outage (once, then summaries).
      if (Date.now() - stream.openedAt >= (this.options.stableMs ?? 10_000)) this.backoff.reset();
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.connect();
      }, this.backoff.next());
      this.retryTimer.unref();
    };
    const onMessage = (message: WatchMessage) => {
      if (stream.dropped) return;
      if (stream === this.widening) {
        if (message.kind !== 'snapshot') return;
        this.drop(this.live);
        this.live = stream;
        this.widening = undefined;
        this.widenBackoff.reset();
        if (stream.version < this.scopeVersion) this.scheduleWidening();
      }
      if (message.kind === 'snapshot') this.appliedVersion = stream.version;
      this.apply(message);
      if (message.kind === 'snapshot') this.releaseWaiters();
    };
    const scope = this.watchScope;
    try {
      stream.handle = this.options.client.watch(since, onMessage, ended, scope ? { scope } : {});
    } catch (error) {
      // The client was closed under the cache: there is nothing left to follow.
      this.options.logger.warn(
        { err: error },
        'cannot watch the control plane any more; the cache stops following it',
      );
    }
    return stream;
  }

  /** Whether the scope (as it is now, perhaps wider than the stream's) holds `record`. */
  private follows(record: AgentRecord): boolean {
    if (!this.scope) return true;
    if (this.matcher?.version !== this.scopeVersion) {
      const compiled = compileScope(this.watchScope!);
      // Every entry was checked as it was added.
      this.matcher = { version: this.scopeVersion, matcher: compiled.ok ? compiled.value : undefined };
    }
    return this.matcher.matcher?.matches(record) ?? true;
  }

  private drop(stream: Stream | undefined): void {
    if (!stream || stream.dropped) return;
    stream.dropped = true;
    stream.handle?.cancel();
  }

  private releaseWaiters(): void {
    for (const waiter of this.waiters) if (waiter.at <= this.appliedVersion) waiter.done();
  }

  private apply(message: WatchMessage): void {
    switch (message.kind) {
      case 'snapshot':
        this.applySnapshot(message);
        break;
      case 'agent':
        // A record that left the scope (a new label, say) is the last the control plane sends of it: dropped.
        if (message.type === 'delete' || !this.follows(message.record)) this.agents.delete(message.record.id);
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
    for (const waiter of this.revisionWaiters) if (waiter.at <= this.revision) waiter.done();
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
