import type { AgentRecord } from '../core/agent-record.js';
import { Code, MeshError } from '../core/errors.js';
import { AgentConnection } from '../transport/agent-connection.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { createBalancer } from './create-balancer.js';
import type { EndpointCache, TargetQuery } from './endpoint-cache.js';
import { EndpointStats } from './endpoint-stats.js';
import type { BalancerName, Endpoint, LoadBalancer } from './load-balancer.js';

/** One agent instance a client calls: its registry record, its balancing statistics and its one connection. */
export interface Member {
  record: AgentRecord;
  endpoint: Endpoint;
  connection: AgentConnection;
}

/** The instances of one query under one strategy: a balancer over them, current as of a registry version. */
export interface Target {
  query: TargetQuery;
  balancer: LoadBalancer;
  /** The ids of the target's instances: the outlier-ejection share is counted among them. */
  ids: string[];
  version: number;
}

/** An instance picked for one attempt, and the target (as of the pick) it was picked from. */
export interface Pick {
  member: Member;
  target: Target;
}

/** Options for {@link EndpointPool}. */
export interface EndpointPoolOptions {
  identity: MeshIdentity;
  cache: EndpointCache;
  random: () => number;
}

/**
 * The instances a client knows and its connections to them, fed by the endpoint cache: one connection per
 * instance (replaced when its address or SPIFFE ID changes, or when this process's certificate is renewed, with
 * calls on the old one left to finish), and a balancer per query and strategy, brought up to date lazily when the
 * registry changed.
 */
export class EndpointPool {
  private readonly members = new Map<string, Member>();
  private readonly targets = new Map<string, Target>();
  private version = 0;
  /** Whether {@link EndpointPool.close} was called. */
  closed = false;
  private readonly stopListening: () => void;
  private readonly stopIdentityUpdates: () => void;

  constructor(private readonly options: EndpointPoolOptions) {
    this.stopListening = options.cache.onChange((change, agentId) =>
      change === 'load' ? this.loadReported(agentId!) : this.refresh(),
    );
    // A renewed certificate reaches only new connections: open them, and let calls on the old ones finish.
    this.stopIdentityUpdates = options.identity.onUpdate(() => this.reconnect());
  }

  /** The ids of the instances the pool holds now (outlier state is kept for these only). */
  ids(): ReadonlySet<string> {
    return new Set(this.members.keys());
  }

  /** @throws MeshError FAILED_PRECONDITION once the pool (its client) was closed. */
  assertOpen(): void {
    if (this.closed) {
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        'this mesh client is closed: create a new one to make calls',
      );
    }
  }

  /**
   * Picks the instance for an attempt from the target's instances as they are now (one may have left while the
   * previous attempt ran): not one already `tried`, and not an `avoided` one unless only those are left. An
   * instance whose connection was lost is passed over while it reconnects, as long as another one is left.
   * Undefined when none is left.
   * @throws MeshError FAILED_PRECONDITION when the pool was closed meanwhile.
   */
  pick(
    query: TargetQuery,
    strategy: BalancerName,
    key: string | undefined,
    tried: Set<string>,
    avoided: ReadonlySet<string>,
  ): Pick | undefined {
    for (;;) {
      this.assertOpen();
      const target = this.targetFor(query, strategy);
      const pick = (exclude: ReadonlySet<string>) =>
        target.balancer.pick(key !== undefined ? { exclude, key } : { exclude });
      let exclude: ReadonlySet<string> = avoided.size === 0 ? tried : new Set([...tried, ...avoided]);
      let endpoint = pick(exclude);
      let passedOver = false;
      while (endpoint && this.members.get(endpoint.id)?.connection.lost()) {
        passedOver = true;
        exclude = new Set([...exclude, endpoint.id]);
        endpoint = pick(exclude);
      }
      endpoint ??= avoided.size > 0 || passedOver ? pick(tried) : undefined;
      if (!endpoint) return undefined;
      tried.add(endpoint.id);
      const member = this.members.get(endpoint.id);
      // The balancer was brought up to date just now, so this holds; a stale endpoint is skipped, not called.
      if (member?.endpoint === endpoint) return { member, target };
    }
  }

  /**
   * Undefined when the cache follows the agents `query` selects; otherwise a promise that resolves once it does,
   * or at `deadline` (ms since the epoch) at the latest.
   */
  cover(query: TargetQuery, deadline: number | undefined): Promise<void> | undefined {
    return this.options.cache.cover(query, deadline === undefined ? undefined : deadline - Date.now());
  }

  /**
   * The target for a query and strategy, its balancer brought up to date with the registry.
   * @throws MeshError INVALID_ARGUMENT for an unknown strategy (and then records nothing).
   */
  targetFor(query: TargetQuery, name: BalancerName): Target {
    const key = `${name}|${query.type ?? ''}|${(query.capabilities ?? []).join(',')}|${query.labelSelector ?? ''}|${query.skill ?? ''}|${query.skillTag ?? ''}`;
    let target = this.targets.get(key);
    if (!target) {
      target = { query, balancer: createBalancer(name, this.options.random), ids: [], version: -1 };
      this.targets.set(key, target);
    }
    if (target.version !== this.version) {
      const endpoints = this.options.cache.select(query).map((record) => this.member(record).endpoint);
      target.balancer.update(endpoints);
      target.ids = endpoints.map((endpoint) => endpoint.id);
      target.version = this.version;
    }
    return target;
  }

  /** Closes every connection and stops following the registry and renewals. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopListening();
    this.stopIdentityUpdates();
    for (const member of this.members.values()) member.connection.close();
    this.members.clear();
    this.targets.clear();
  }

  /** The member for an agent: its endpoint statistics and its one connection, replaced if its address or ID changed. */
  private member(record: AgentRecord): Member {
    const existing = this.members.get(record.id);
    if (
      existing &&
      existing.record.spec.endpoint === record.spec.endpoint &&
      existing.record.spiffeId === record.spiffeId
    ) {
      existing.record = record;
      existing.endpoint.weight = record.spec.weight;
      existing.endpoint.reported = record.load;
      return existing;
    }
    existing?.connection.retire();
    const member: Member = {
      record,
      endpoint: {
        id: record.id,
        weight: record.spec.weight,
        reported: record.load,
        stats: new EndpointStats(),
      },
      connection: this.connect(record),
    };
    this.members.set(record.id, member);
    return member;
  }

  /** A new connection to an agent, with credentials of its own that present our current identity. */
  private connect(record: AgentRecord): AgentConnection {
    return new AgentConnection(record.spec.endpoint, this.options.identity, record.spiffeId);
  }

  /** After our certificate is renewed: every member moves to a new connection, which presents the new one. */
  private reconnect(): void {
    if (this.closed) return;
    for (const member of this.members.values()) {
      const previous = member.connection;
      member.connection = this.connect(member.record);
      previous.retire();
    }
  }

  /** An agent reported its load: its endpoint carries the report, with no recomputing of targets. */
  private loadReported(id: string): void {
    const member = this.members.get(id);
    const record = this.options.cache.get(id);
    if (!member || !record) return;
    member.record = record;
    member.endpoint.reported = record.load;
  }

  /** After a registry change: targets recompute their endpoints, connections to departed agents close. */
  private refresh(): void {
    this.version += 1;
    for (const [id, member] of this.members) {
      if (!this.options.cache.get(id)) {
        member.connection.retire();
        this.members.delete(id);
      }
    }
    this.onRefresh?.(this.ids());
  }

  /** Told the ids still present after each registry change (the attempt loop forgets the others' outlier state). */
  onRefresh: ((present: ReadonlySet<string>) => void) | undefined;
}
