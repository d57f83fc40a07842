import type { Logger } from '../observability/logger.js';
import type { AgentRecord, AgentSpec, Health, LoadReport } from './agent-record.js';
import { ALLOW_ALL, type PolicySet } from './policy.js';
import { Registry } from './registry.js';
import type { LeaseId, Store, StoreEvent, StoreWatch, StoredValue } from './store.js';

/** Store keys of the control plane. */
export const KEYS = {
  agentPrefix: 'agentmesh/agents/',
  agent: (id: string) => `agentmesh/agents/${id}`,
  policies: 'agentmesh/policies',
  joinToken: (jti: string) => `agentmesh/join-tokens/${jti}`,
} as const;

/** An agent as it is written to the store. */
export interface StoredAgent {
  spec: AgentSpec;
  spiffeId: string;
  health: Health;
  load: LoadReport;
  registeredAt: number;
  leaseTtlMs: number;
}

/** The stored form of a record, with some fields changed. */
export function storedAgent(record: AgentRecord, changes: Partial<StoredAgent> = {}): StoredAgent {
  return {
    spec: record.spec,
    spiffeId: record.spiffeId,
    health: record.health,
    load: record.load,
    registeredAt: record.registeredAt,
    leaseTtlMs: record.leaseTtlMs,
    ...changes,
  };
}

/** One change to the control plane's state, as watchers receive it. */
export type StateChange =
  | { kind: 'agent'; revision: number; type: 'put' | 'delete'; record: AgentRecord; reason: string }
  | { kind: 'policies'; revision: number; policies: PolicySet };

/** Options for {@link ControlPlaneState}. */
export interface StateOptions {
  store: Store;
  logger: Logger;
  /** How many changes to keep for watchers that resume from a revision (default 10,000). */
  historySize?: number;
  clock?: { now(): number };
}

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
  private readonly history: StateChange[] = [];
  private readonly listeners = new Set<(change: StateChange) => void>();
  private readonly resetListeners = new Set<() => void>();
  private readonly historySize: number;
  private readonly clock: { now(): number };
  private watches: StoreWatch[] = [];
  private revisionSeen = 0;
  private firstKeptRevision = 0;

  constructor(private readonly options: StateOptions) {
    this.historySize = options.historySize ?? 10_000;
    this.clock = options.clock ?? { now: () => Date.now() };
  }

  /** Loads the current state from the store and starts following it. */
  async start(): Promise<void> {
    await this.sync();
  }

  async stop(): Promise<void> {
    await Promise.all(this.watches.map((watch) => watch.close()));
    this.watches = [];
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
   * The changes after `revision`, or undefined when some of them are no longer kept (the watcher then needs a
   * snapshot).
   */
  changesSince(revision: number): StateChange[] | undefined {
    if (revision > this.revisionSeen) return undefined;
    if (revision < this.firstKeptRevision) return undefined;
    let start = this.history.length;
    while (start > 0 && this.history[start - 1]!.revision > revision) start -= 1;
    return this.history.slice(start);
  }

  /** Calls `listener` with every change from now on; returns a function that stops it. */
  subscribe(listener: (change: StateChange) => void, onReset?: () => void): () => void {
    this.listeners.add(listener);
    if (onReset) this.resetListeners.add(onReset);
    return () => {
      this.listeners.delete(listener);
      if (onReset) this.resetListeners.delete(onReset);
    };
  }

  private async sync(): Promise<void> {
    await this.stop();
    const [agents, policies] = await Promise.all([
      this.options.store.list(KEYS.agentPrefix),
      this.options.store.get(KEYS.policies),
    ]);
    this.registry.clear();
    this.leases.clear();
    for (const item of agents.items) {
      const record = this.toRecord(item);
      if (record) this.registry.put(record);
    }
    this.policySet = policies ? (JSON.parse(policies.value) as PolicySet) : ALLOW_ALL;
    this.policyRevision = policies?.revision ?? 0;
    const revision = Math.max(agents.revision, policies?.revision ?? 0);
    this.revisionSeen = revision;
    // Changes before this point are not in the history; resuming from earlier needs a snapshot.
    this.history.length = 0;
    this.firstKeptRevision = revision;
    const handlers = {
      onEvents: (events: StoreEvent[]) => this.apply(events),
      onError: (error: Error) => {
        this.options.logger.warn({ err: error }, 'store watch broke; reloading the state');
        void this.sync()
          .then(() => {
            for (const listener of this.resetListeners) listener();
          })
          .catch((syncError: unknown) =>
            this.options.logger.error({ err: syncError }, 'cannot reload the state'),
          );
      },
    };
    this.watches = await Promise.all([
      this.options.store.watch(KEYS.agentPrefix, revision, handlers),
      this.options.store.watch(KEYS.policies, revision, handlers),
    ]);
  }

  private toRecord(item: StoredValue): AgentRecord | undefined {
    try {
      const stored = JSON.parse(item.value) as StoredAgent;
      const id = item.key.slice(KEYS.agentPrefix.length);
      const known = this.leases.get(id);
      const expiresAt =
        known?.lease === item.lease && known ? known.expiresAt : this.clock.now() + stored.leaseTtlMs;
      if (item.lease !== undefined) this.leases.set(id, { lease: item.lease, expiresAt });
      return {
        id,
        spec: stored.spec,
        spiffeId: stored.spiffeId,
        health: stored.health,
        load: stored.load,
        registeredAt: stored.registeredAt,
        leaseExpiresAt: expiresAt,
        leaseTtlMs: stored.leaseTtlMs,
        revision: item.revision,
      };
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
      this.history.push(change);
      // Trim in batches of a quarter, not one entry per change: shifting a 10,000-entry array on every change
      // would copy it every time.
      if (this.history.length > this.historySize * 1.25) {
        const dropped = this.history.splice(0, this.history.length - this.historySize);
        this.firstKeptRevision = dropped[dropped.length - 1]!.revision;
      }
      for (const listener of this.listeners) listener(change);
    }
  }

  private changeFor(event: StoreEvent): StateChange | undefined {
    if (event.key === KEYS.policies) {
      this.policySet = event.type === 'put' ? (JSON.parse(event.value) as PolicySet) : ALLOW_ALL;
      this.policyRevision = event.revision;
      return { kind: 'policies', revision: event.revision, policies: this.policySet };
    }
    const id = event.key.slice(KEYS.agentPrefix.length);
    if (event.type === 'delete') {
      const record = this.registry.remove(id);
      this.leases.delete(id);
      if (!record) return undefined;
      const reason = event.cause === 'lease-expired' ? 'lease expired' : 'deregistered';
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
    };
  }
}

function describePut(previous: AgentRecord | undefined, record: AgentRecord): string {
  if (!previous) return 'registered';
  if (previous.registeredAt !== record.registeredAt) return 're-registered';
  if (previous.health !== record.health) {
    if (record.health === 'draining') return 'draining';
    return record.health === 'healthy' ? 'health checks passing' : 'health checks failing';
  }
  return 'load reported';
}
