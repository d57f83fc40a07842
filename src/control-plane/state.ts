import { Backoff } from '../core/backoff.js';
import type { Logger } from '../observability/logger.js';
import type { AgentRecord, LoadReport } from '../core/agent-record.js';
import { ALLOW_ALL, type PolicySet } from '../core/policy.js';
import { BoundedHistory, DEFAULT_HISTORY_BYTES } from './bounded-history.js';
import { Registry } from './registry.js';
import { RevisionWaiters } from './revision-waiters.js';
import type { LeaseId, Store, StoreEvent, StoreWatch, StoredValue } from './store.js';
import { agentRecord, describePut, KEYS, parseLoad, type StoredAgent } from './stored-agent.js';

/** One change to the control plane's state, as watchers receive it. */
export type StateChange =
  | {
      kind: 'agent';
      revision: number;
      type: 'put' | 'delete';
      record: AgentRecord;
      reason: string;
      /** For a put, the record it replaced: a watcher of a scope the agent leaves still hears that it left. */
      previous?: AgentRecord;
    }
  | { kind: 'load'; revision: number; agentId: string; load: LoadReport }
  | { kind: 'policies'; revision: number; policies: PolicySet };

/** Options for {@link ControlPlaneState}. */
export interface StateOptions {
  store: Store;
  logger: Logger;
  /** How many changes to keep for watchers that resume from a revision (default 10,000). */
  historySize?: number;
  /** How many bytes of changes to keep, whatever their number (default 32 MiB). */
  historyBytes?: number;
  clock?: { now(): number };
}

/** What a kept change costs in memory, about: what it holds beyond the record that watchers already share. */
const CHANGE_OVERHEAD_BYTES = 128;

/**
 * Why watchers start over: the store watch broke and the state was reloaded (`reloaded`), or the period after a
 * start when snapshots may miss agents about to register again is over (`settled`).
 */
export type StateReset = 'reloaded' | 'settled';

/**
 * A replica's view of the control plane's state: every agent (with discovery indexes) and the policies, kept
 * current by watching the store, plus a bounded history of changes so that a watcher can resume from a revision.
 * Writes go to the store and come back through the watch, so every replica sees the same sequence.
 */
export class ControlPlaneState {
  readonly registry = new Registry();
  private policySet: PolicySet = ALLOW_ALL;
  private policyRevision = 0;
  private readonly leases = new Map<string, { lease: LeaseId; expiresAt: number }>();
  private readonly history: BoundedHistory<StateChange>;
  private partialTimer: NodeJS.Timeout | undefined;
  private partialView = false;
  /** The revision at which the partial period ended: a watcher that resumes from it or earlier needs a snapshot. */
  private settledRevision = -1;
  private readonly listeners = new Set<(change: StateChange, bytes: number) => void>();
  private readonly resetListeners = new Set<(why: StateReset) => void>();
  private readonly clock: { now(): number };
  private watch: StoreWatch | undefined;
  private resyncing = false;
  private closed = false;
  private readonly revisionWaiters = new RevisionWaiters();
  private revisionSeen = 0;
  private firstKeptRevision = 0;

  constructor(private readonly options: StateOptions) {
    this.history = new BoundedHistory(
      options.historySize ?? 10_000,
      options.historyBytes ?? DEFAULT_HISTORY_BYTES,
    );
    this.clock = options.clock ?? { now: () => Date.now() };
  }

  /** Loads the current state from the store and starts following it. */
  async start(): Promise<void> {
    await this.sync();
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.partialTimer);
    await this.closeWatch();
    this.revisionWaiters.releaseAll();
  }

  private async closeWatch(): Promise<void> {
    const watch = this.watch;
    this.watch = undefined;
    await watch?.close();
  }

  /**
   * Declares this replica's view incomplete for `ms`: it started on an empty store (an in-memory control plane
   * that restarted) while agents that were registered before may still be running and about to register again.
   * Snapshots say so meanwhile ({@link partial}); when the time is up, every watcher gets a complete snapshot.
   */
  settleFor(ms: number): void {
    if (ms <= 0) return;
    this.partialView = true;
    clearTimeout(this.partialTimer);
    this.partialTimer = setTimeout(() => this.settle(), ms);
    this.partialTimer.unref();
  }

  /**
   * Ends the period of partial snapshots now (when the time of {@link settleFor} is up, or earlier, when an
   * operator knows every agent is back): every watcher gets a complete snapshot, and so does every watcher that
   * resumes later from a revision of the partial period, which may hold agents that are gone.
   */
  settle(): void {
    clearTimeout(this.partialTimer);
    if (!this.partialView) return;
    this.partialView = false;
    this.settledRevision = this.revisionSeen;
    this.options.logger.info('registry settled: snapshots are complete again');
    for (const listener of this.resetListeners) listener('settled');
  }

  /** Whether this replica's view may still lack agents that are about to register again (see {@link settleFor}). */
  get partial(): boolean {
    return this.partialView;
  }

  /** The number of changes kept for resuming watchers, and their estimated size in bytes. */
  get historyStats(): { changes: number; bytes: number } {
    return { changes: this.history.length, bytes: this.history.bytes };
  }

  /** The latest revision this replica has applied. */
  get revision(): number {
    return this.revisionSeen;
  }

  get policies(): PolicySet {
    return this.policySet;
  }

  get policiesRevision(): number {
    return this.policyRevision;
  }

  /** The lease an agent's registration is attached to. */
  leaseOf(id: string): LeaseId | undefined {
    return this.leases.get(id)?.lease;
  }

  /** Records a lease renewal seen by this replica, so records show when the lease will end. */
  noteKeepAlive(id: string, ttlMs: number): number | undefined {
    const entry = this.leases.get(id);
    if (!entry) return undefined;
    entry.expiresAt = this.clock.now() + ttlMs;
    const record = this.registry.get(id);
    if (record) record.leaseExpiresAt = entry.expiresAt;
    return entry.expiresAt;
  }

  /**
   * The changes after `revision`, or undefined when some of them are no longer kept, or when `revision` is from a
   * partial period that has ended (the watcher then needs a snapshot).
   */
  changesSince(revision: number): StateChange[] | undefined {
    if (revision > this.revisionSeen) return undefined;
    if (revision < this.firstKeptRevision) return undefined;
    if (revision <= this.settledRevision) return undefined; // it may have seen only a partial view
    const kept = this.history.items;
    let start = kept.length;
    while (start > 0 && kept[start - 1]!.revision > revision) start -= 1;
    return kept.slice(start);
  }

  /**
   * Calls `listener` with every change from now on, and about how many bytes it weighs (what a watcher's queue
   * holds for it); returns a function that stops it.
   */
  subscribe(
    listener: (change: StateChange, bytes: number) => void,
    onReset?: (why: StateReset) => void,
  ): () => void {
    this.listeners.add(listener);
    if (onReset) this.resetListeners.add(onReset);
    return () => {
      this.listeners.delete(listener);
      if (onReset) this.resetListeners.delete(onReset);
    };
  }

  private async sync(): Promise<void> {
    await this.closeWatch();
    // One read and one watch over every key of the control plane, so agents and policies share one revision
    // sequence: two watches could deliver their catch-up out of order after a reconnect and lose a change.
    const all = await this.options.store.list(KEYS.root);
    this.registry.clear();
    this.leases.clear();
    this.policySet = ALLOW_ALL;
    this.policyRevision = 0;
    const loads: StoredValue[] = [];
    for (const item of all.items) {
      if (item.key === KEYS.policies) {
        this.policySet = this.parsePolicies(item.value);
        this.policyRevision = item.revision;
      } else if (item.key.startsWith(KEYS.agentPrefix)) {
        const record = this.toRecord(item);
        if (record) this.registry.put(record);
      } else if (item.key.startsWith(KEYS.loadPrefix)) {
        loads.push(item);
      }
    }
    // Loads after records: a load only applies to an agent that is there.
    for (const item of loads) {
      const load = parseLoad(item.value);
      if (load) this.registry.setLoad(item.key.slice(KEYS.loadPrefix.length), load);
    }
    this.revisionSeen = all.revision;
    // Changes before this point are not in the history; resuming from earlier needs a snapshot.
    this.history.clear();
    this.firstKeptRevision = all.revision;
    this.watch = await this.options.store.watch(KEYS.root, all.revision, {
      onEvents: (events: StoreEvent[]) => this.apply(events),
      onError: (error: Error) => this.resync(error),
    });
    this.revisionWaiters.reached(this.revisionSeen);
  }

  /**
   * After a broken watch: reload everything, retrying with jittered backoff while the store is unreachable (the
   * store logs that, once per outage), then reset watchers. One reload loop at a time.
   */
  private resync(error: Error): void {
    if (this.resyncing || this.closed) return;
    this.resyncing = true;
    this.options.logger.warn({ err: error }, 'store watch broke; reloading the state');
    const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
    const attempt = () => {
      if (this.closed) {
        this.resyncing = false;
        return;
      }
      this.sync().then(
        () => {
          this.resyncing = false;
          this.options.logger.info({ attempts: backoff.attempts + 1 }, 'state reloaded from the store');
          for (const listener of this.resetListeners) listener('reloaded');
        },
        () => setTimeout(attempt, backoff.next()).unref(),
      );
    };
    attempt();
  }

  /** Policies from the store; a value that cannot be read denies everything rather than allowing it. */
  private parsePolicies(value: string): PolicySet {
    try {
      return JSON.parse(value) as PolicySet;
    } catch (error) {
      this.options.logger.error(
        { err: error },
        'unreadable policies in the store: denying everything until they are set again',
      );
      return { defaultEffect: 'deny', rules: [] };
    }
  }

  /**
   * Resolves once this replica has applied `revision` (or after `timeoutMs`), so that a client that wrote
   * through this replica reads its own write from it next.
   */
  waitForRevision(revision: number, timeoutMs = 5_000): Promise<void> {
    if (this.revisionSeen >= revision) return Promise.resolve();
    return this.revisionWaiters.wait(revision, timeoutMs);
  }

  private toRecord(item: StoredValue): AgentRecord | undefined {
    try {
      const stored = JSON.parse(item.value) as StoredAgent;
      const id = item.key.slice(KEYS.agentPrefix.length);
      const known = this.leases.get(id);
      const expiresAt =
        known?.lease === item.lease && known ? known.expiresAt : this.clock.now() + stored.leaseTtlMs;
      if (item.lease !== undefined) this.leases.set(id, { lease: item.lease, expiresAt });
      return agentRecord(id, stored, item.revision, expiresAt);
    } catch (error) {
      this.options.logger.error(
        { err: error, key: item.key },
        'unreadable agent record in the store; ignored',
      );
      return undefined;
    }
  }

  private apply(events: StoreEvent[]): void {
    for (const event of events) {
      if (event.revision <= this.revisionSeen) continue; // already applied (e.g. seen by list and watch)
      this.revisionSeen = event.revision;
      const change = this.changeFor(event);
      if (!change) continue;
      const bytes = this.remember(change, event);
      for (const listener of this.listeners) listener(change, bytes);
    }
    this.revisionWaiters.reached(this.revisionSeen);
  }

  /**
   * Keeps `change` for watchers that resume, within the history's bounds in number and in bytes; returns its
   * estimated size.
   */
  private remember(change: StateChange, event: StoreEvent): number {
    // A deleted record is kept only here from now on: it costs what its spec does (measured once, at deletion).
    const bytes =
      CHANGE_OVERHEAD_BYTES +
      (change.kind === 'load'
        ? 0
        : event.type === 'put'
          ? event.value.length
          : change.kind === 'agent'
            ? JSON.stringify(change.record.spec).length
            : 0);
    const dropped = this.history.push(change, bytes);
    if (dropped.length > 0) this.firstKeptRevision = dropped[dropped.length - 1]!.revision;
    return bytes;
  }

  private changeFor(event: StoreEvent): StateChange | undefined {
    if (event.key === KEYS.policies) {
      this.policySet = event.type === 'put' ? this.parsePolicies(event.value) : ALLOW_ALL;
      this.policyRevision = event.revision;
      return { kind: 'policies', revision: event.revision, policies: this.policySet };
    }
    if (event.key.startsWith(KEYS.loadPrefix)) {
      // A load key goes with its lease (the record says the rest); a load for an agent not there is ignored.
      if (event.type === 'delete') return undefined;
      const agentId = event.key.slice(KEYS.loadPrefix.length);
      const load = parseLoad(event.value);
      if (!load || !this.registry.setLoad(agentId, load)) return undefined;
      return { kind: 'load', revision: event.revision, agentId, load };
    }
    if (!event.key.startsWith(KEYS.agentPrefix)) return undefined; // join-token records and the like
    const id = event.key.slice(KEYS.agentPrefix.length);
    if (event.type === 'delete') {
      const record = this.registry.remove(id);
      this.leases.delete(id);
      if (!record) return undefined;
      const reason =
        event.cause === 'lease-expired'
          ? 'lease expired'
          : event.cause === 'deleted'
            ? 'deregistered'
            : 'removed (deregistered or lease expired)';
      return {
        kind: 'agent',
        revision: event.revision,
        type: 'delete',
        record: { ...record, revision: event.revision },
        reason,
      };
    }
    const previous = this.registry.get(id);
    const record = this.toRecord({
      key: event.key,
      value: event.value,
      revision: event.revision,
      ...(event.lease ? { lease: event.lease } : {}),
    });
    if (!record) return undefined;
    this.registry.put(record);
    return {
      kind: 'agent',
      revision: event.revision,
      type: 'put',
      record,
      reason: describePut(previous, record),
      ...(previous ? { previous } : {}),
    };
  }
}
