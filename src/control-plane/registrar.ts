import { Code, MeshError, quote } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import {
  validateSpec,
  type AgentRecord,
  type AgentSpec,
  type Health,
  type LoadReport,
} from '../core/agent-record.js';
import {
  authorize,
  entitledTypes,
  isRevoked,
  revokedRefusal,
  validatePolicySet,
  type PolicySet,
} from '../core/policy.js';
import type { ControlPlaneState } from './state.js';
import { KEYS, storedAgent } from './stored-agent.js';
import type { LeaseId, Store } from './store.js';

/** Lease bounds: what an agent may ask for, and what it gets when it asks for nothing. */
export interface LeaseSettings {
  defaultTtlMs: number;
  minTtlMs: number;
  maxTtlMs: number;
}

/** The most often one agent's load is written (the latest): loads steer balancing and need be no fresher. */
const LOAD_INTERVAL_MS = 1_000;

/** Default lease settings: 15 s by default, between 1 s and 5 min. */
export const DEFAULT_LEASES: LeaseSettings = { defaultTtlMs: 15_000, minTtlMs: 1_000, maxTtlMs: 300_000 };

/** Options for {@link Registrar}. */
export interface RegistrarOptions {
  store: Store;
  state: ControlPlaneState;
  logger: Logger;
  leases?: Partial<LeaseSettings>;
  /**
   * Whether an identity may register only as an agent type it is entitled to (`enforce`, the default), or may
   * register as any type with a warning (`audit`: for a mesh moving to entitlements, to find what to grant).
   */
  typeEntitlements?: TypeEntitlements;
  /** Told about every registration of a type the identity is not entitled to (audit mode lets it through). */
  onUnentitled?: (caller: string, type: string) => void;
  clock?: { now(): number };
}

/** How the control plane treats a registration of a type the identity is not entitled to. */
export type TypeEntitlements = 'enforce' | 'audit';

function sameLoad(a: LoadReport, b: LoadReport): boolean {
  return a.inFlight === b.inFlight && a.queueDepth === b.queueDepth;
}

/**
 * Every write the control plane makes: registrations and their leases, health, draining, policies, and the record
 * of used join tokens. Callers have already authenticated the request; the registrar enforces that an agent acts
 * only on its own registration and validates every input. Writes go to the store; the state sees them through its
 * watch, so all replicas agree.
 */
export class Registrar {
  private readonly leases: LeaseSettings;
  private readonly clock: { now(): number };
  /** Agents whose load was written in this interval, and the latest loads waiting for its end. */
  private readonly loads = {
    recent: new Set<string>(),
    waiting: new Map<string, { load: LoadReport; lease: LeaseId }>(),
    timer: undefined as NodeJS.Timeout | undefined,
  };

  constructor(private readonly options: RegistrarOptions) {
    this.leases = { ...DEFAULT_LEASES, ...options.leases };
    this.clock = options.clock ?? { now: () => Date.now() };
  }

  /**
   * Registers (or re-registers) the agent `spec.name` for the caller: its SPIFFE ID `id`, its agent name `name`
   * (undefined for an identity that is no agent of ours) and the agent types its certificate entitles it to. The
   * spec's type must be one of those or granted by the policies. Resolves when the store has it; the record
   * returned is what watchers will see.
   * @throws MeshError INVALID_ARGUMENT, PERMISSION_DENIED (registering as someone else, or as a type the identity
   * is not entitled to), UNAVAILABLE (store).
   */
  async register(
    caller: { id: string; name: string | undefined; agentTypes: readonly string[] },
    rawSpec: AgentSpec,
    requestedTtlMs: number,
  ): Promise<{ record: AgentRecord; ttlMs: number }> {
    const spec = validateSpec(rawSpec);
    if (!spec.ok) throw spec.error;
    if (spec.value.name !== caller.name) {
      throw new MeshError(
        Code.PERMISSION_DENIED,
        `${quote(caller.id)} may register only as "${caller.name ?? '(no agent name)'}", not as ${quote(spec.value.name)}`,
      );
    }
    if (isRevoked(this.options.state.policies, caller.id)) throw revokedRefusal(caller.id);
    const policies = this.options.state.policies;
    const policiesRevision = this.options.state.policiesRevision;
    const entitled = entitledTypes(policies, { uri: caller.id, agentTypes: caller.agentTypes });
    if (!entitled.includes(spec.value.type)) {
      this.options.onUnentitled?.(caller.id, spec.value.type);
      if ((this.options.typeEntitlements ?? 'enforce') === 'enforce') {
        throw new MeshError(Code.PERMISSION_DENIED, unentitledMessage(caller.id, spec.value, entitled));
      }
      this.options.logger.warn(
        { agent: spec.value.name, spiffeId: caller.id, type: spec.value.type, entitled },
        'agent registered as a type it is not entitled to (allowed in audit mode; enforce mode will refuse it)',
      );
    }
    for (const subscription of spec.value.subscriptions) {
      const decision = authorize(policies, {
        caller: caller.id,
        callerTypes: entitled.includes(spec.value.type) ? entitled : [...entitled, spec.value.type],
        action: 'subscribe',
        pattern: subscription.pattern,
      });
      if (!decision.allowed) {
        throw new MeshError(
          Code.PERMISSION_DENIED,
          `${quote(caller.id)} may not subscribe to ${quote(subscription.pattern)}${decision.ruleId ? ` (rule ${decision.ruleId})` : ' (no rule allows it)'}`,
        );
      }
    }
    const ttlMs = this.clampTtl(requestedTtlMs);
    const previous = this.options.state.registry.get(spec.value.name);
    const { lease, ttlMs: granted } = await this.options.store.grantLease(ttlMs);
    const now = this.clock.now();
    // Registering again at the same endpoint does not wash away failing health checks: an unhealthy agent stays
    // so until its checks pass. A new endpoint (a new process, somewhere else) starts healthy.
    const health: Health =
      previous?.health === 'unhealthy' && previous.spec.endpoint === spec.value.endpoint
        ? 'unhealthy'
        : 'healthy';
    const stored = {
      spec: spec.value,
      spiffeId: caller.id,
      health,
      load: { inFlight: 0, queueDepth: 0 },
      registeredAt: now,
      leaseTtlMs: granted,
      certificateTypes: [...caller.agentTypes],
    };
    const revision = await this.options.store.put(KEYS.agent(spec.value.name), JSON.stringify(stored), {
      lease,
    });
    const oldLease = previous && this.options.state.leaseOf(previous.id);
    // Read-your-writes: the agent's next call to this replica must find its registration.
    await this.options.state.waitForRevision(revision);
    if (oldLease !== undefined && oldLease !== lease) {
      // The key now hangs on the new lease, so ending the old one deletes nothing.
      await this.options.store.revokeLease(oldLease).catch(() => undefined);
    }
    // Policies that changed while this registration was being written (a grant withdrawn, an identity revoked) may
    // have been applied before it was there to remove: check it against them now.
    if (this.options.state.policiesRevision !== policiesRevision) {
      const refusal = this.refusal({
        spiffeId: caller.id,
        spec: spec.value,
        certificateTypes: caller.agentTypes,
      });
      if (refusal) {
        await this.options.store.revokeLease(lease).catch(() => undefined);
        throw new MeshError(Code.PERMISSION_DENIED, refusal);
      }
    }
    this.options.logger.info(
      { agent: spec.value.name, type: spec.value.type, endpoint: spec.value.endpoint },
      'agent registered',
    );
    return {
      record: { id: spec.value.name, ...stored, leaseExpiresAt: now + granted, revision },
      ttlMs: granted,
    };
  }

  /**
   * Renews the lease of agent `id` and records its load and draining flag.
   * @throws MeshError NOT_FOUND when the registration (or its lease) is gone, PERMISSION_DENIED for another's id.
   */
  async heartbeat(
    callerName: string | undefined,
    id: string,
    load: LoadReport,
    draining: boolean,
  ): Promise<number> {
    const record = this.own(callerName, id);
    // The policies may have changed since the agent registered, on this replica or another: a registration they no
    // longer allow ends here, and the agent's registering again is refused with the reason.
    const refusal = this.refusal(record);
    if (refusal) {
      await this.evict(record, refusal);
      throw new MeshError(Code.NOT_FOUND, `the registration of ${quote(id)} was removed: ${refusal}`);
    }
    const lease = this.options.state.leaseOf(id);
    if (lease === undefined || !(await this.options.store.keepAlive(lease))) {
      throw new MeshError(Code.NOT_FOUND, `the lease of ${quote(id)} has ended: register again`);
    }
    const expiresAt =
      this.options.state.noteKeepAlive(id, record.leaseTtlMs) ?? this.clock.now() + record.leaseTtlMs;
    const health: Health = draining || record.health === 'draining' ? 'draining' : record.health;
    if (health !== record.health) {
      // Compare-and-swap on the record's revision: a re-registration that raced this heartbeat wins, instead of
      // being overwritten with the old record (and the old lease, whose revocation would then delete it).
      const written = await this.options.store.putIfRevision(
        KEYS.agent(id),
        JSON.stringify(storedAgent(record, { health })),
        record.revision,
        { lease },
      );
      if (written) await this.options.state.waitForRevision(record.revision + 1);
    }
    if (sameLoad(load, record.load)) {
      this.loads.waiting.delete(id); // back to what was written: nothing to write later either
    } else if (this.loads.recent.has(id)) {
      // Written less than an interval ago: the latest load waits for the interval's end (watchers of a busy agent
      // get a load a second however often it heartbeats, and the heartbeat waits for no write).
      this.loads.waiting.set(id, { load, lease });
      this.pace();
    } else {
      this.loads.recent.add(id);
      this.pace();
      await this.writeLoad(id, load, lease);
    }
    return expiresAt;
  }

  /** Stops writing the loads that wait (the control plane is closing). */
  close(): void {
    clearInterval(this.loads.timer);
    this.loads.timer = undefined;
    this.loads.waiting.clear();
  }

  /**
   * A load report is a small key of its own on the agent's lease: the record (and its spec, which may be large) is
   * never rewritten for it, so the store's history, every replica's and every watcher get a few bytes. A
   * re-registration that moved the agent to a new lease meanwhile ended this one: its next heartbeat reports.
   */
  private async writeLoad(id: string, load: LoadReport, lease: LeaseId): Promise<void> {
    await this.options.store.put(KEYS.load(id), JSON.stringify(load), { lease }).catch((error: unknown) => {
      if (!(error instanceof MeshError && error.code === Code.NOT_FOUND)) throw error;
    });
  }

  /** Runs the load interval while any agent's load was written in it or waits. */
  private pace(): void {
    if (this.loads.timer) return;
    this.loads.timer = setInterval(() => {
      this.loads.recent.clear();
      const waiting = [...this.loads.waiting];
      this.loads.waiting.clear();
      if (waiting.length === 0) {
        clearInterval(this.loads.timer);
        this.loads.timer = undefined;
        return;
      }
      for (const [id, { load, lease }] of waiting) {
        // Only for the registration it was reported for, and only when it still says something new.
        const record = this.options.state.registry.get(id);
        if (!record || this.options.state.leaseOf(id) !== lease || sameLoad(load, record.load)) continue;
        this.loads.recent.add(id);
        this.writeLoad(id, load, lease).catch((error: unknown) =>
          this.options.logger.warn(
            { err: error, agent: id },
            'could not record an agent load; its next heartbeat will',
          ),
        );
      }
    }, LOAD_INTERVAL_MS);
    this.loads.timer.unref();
  }

  /** Removes agent `id`. @throws MeshError NOT_FOUND, PERMISSION_DENIED. */
  async deregister(callerName: string | undefined, id: string): Promise<void> {
    this.own(callerName, id);
    await this.remove(id);
    this.options.logger.info({ agent: id }, 'agent deregistered');
  }

  /** Deletes agent `id`'s registration and ends its lease; resolves once this replica no longer lists it. */
  private async remove(id: string): Promise<void> {
    const lease = this.options.state.leaseOf(id);
    await this.options.store.delete(KEYS.agent(id));
    if (lease !== undefined) await this.options.store.revokeLease(lease).catch(() => undefined);
    // Read-your-writes: this replica stops listing the agent before the call returns (the delete may already
    // be applied, so wait for its effect rather than for one more revision).
    const until = Date.now() + 1_000;
    while (this.options.state.registry.get(id) && Date.now() < until) {
      await this.options.state.waitForRevision(this.options.state.revision + 1, until - Date.now());
    }
  }

  /** Sets an agent's health from active checks (never overriding draining, never over a newer record). */
  async setHealth(id: string, health: 'healthy' | 'unhealthy'): Promise<void> {
    const record = this.options.state.registry.get(id);
    const lease = this.options.state.leaseOf(id);
    if (!record || record.health === 'draining' || record.health === health || lease === undefined) return;
    await this.options.store.putIfRevision(
      KEYS.agent(id),
      JSON.stringify(storedAgent(record, { health })),
      record.revision,
      {
        lease,
      },
    );
  }

  /**
   * Replaces the policies, then removes the registrations they no longer allow: of revoked identities, and (when
   * entitlements are enforced) of agents whose type neither their certificate nor a grant entitles them to any more,
   * e.g. a grant that was withdrawn. Records written before entitlements are left alone.
   * @throws MeshError INVALID_ARGUMENT for a malformed set.
   */
  async setPolicies(policies: PolicySet): Promise<number> {
    const valid = validatePolicySet(policies);
    if (!valid.ok) throw valid.error;
    const revision = await this.options.store.put(KEYS.policies, JSON.stringify(valid.value));
    await this.options.state.waitForRevision(revision);
    // At once on this replica; every replica also checks each registration at its next heartbeat.
    for (const record of this.options.state.registry.all()) {
      const refusal = this.refusal(record, valid.value);
      if (refusal) await this.evict(record, refusal);
    }
    return revision;
  }

  /**
   * Why the policies no longer allow a registration: its identity is revoked, or (entitlements enforced) neither
   * its certificate nor a grant entitles it to its type. A record written before entitlements counts as entitled
   * to nothing. Undefined when it may stay.
   */
  private refusal(
    record: Pick<AgentRecord, 'spiffeId' | 'spec' | 'certificateTypes'>,
    policies: PolicySet = this.options.state.policies,
  ): string | undefined {
    if (isRevoked(policies, record.spiffeId)) return revokedRefusal(record.spiffeId).message;
    if ((this.options.typeEntitlements ?? 'enforce') !== 'enforce') return undefined;
    const entitled = entitledTypes(policies, {
      uri: record.spiffeId,
      agentTypes: record.certificateTypes ?? [],
    });
    return entitled.includes(record.spec.type)
      ? undefined
      : unentitledMessage(record.spiffeId, record.spec, entitled);
  }

  /**
   * Removes a registration the policies no longer allow by ending its lease: a re-registration made meanwhile hangs
   * on a new lease and stays. Failures are logged (the next heartbeat tries again), never thrown.
   */
  private async evict(record: AgentRecord, why: string): Promise<void> {
    const lease = this.options.state.leaseOf(record.id);
    try {
      if (lease === undefined) await this.options.store.delete(KEYS.agent(record.id));
      else await this.options.store.revokeLease(lease);
      this.options.logger.warn(
        { agent: record.id, spiffeId: record.spiffeId, type: record.spec.type, reason: why.slice(0, 300) },
        'registration removed: the policies no longer allow it',
      );
    } catch (error) {
      this.options.logger.warn(
        { err: error, agent: record.id },
        'cannot remove a registration the policies no longer allow',
      );
    }
  }

  /** Whether join token `jti` was used already (checked before any signing work; the record below is the lock). */
  async joinTokenUsed(jti: string): Promise<boolean> {
    return (await this.options.store.get(KEYS.joinToken(jti))) !== undefined;
  }

  /**
   * Records that join token `jti` was used; resolves false when it already was. The record lives until the
   * token would have expired anyway.
   */
  async consumeJoinToken(jti: string, expiresAt: number): Promise<boolean> {
    const ttlMs = Math.max(1_000, expiresAt - this.clock.now() + 60_000);
    const { lease } = await this.options.store.grantLease(ttlMs);
    const created = await this.options.store.create(KEYS.joinToken(jti), String(this.clock.now()), { lease });
    if (!created) await this.options.store.revokeLease(lease).catch(() => undefined);
    return created;
  }

  private own(callerName: string | undefined, id: string): AgentRecord {
    const record = this.options.state.registry.get(id);
    if (id !== callerName) {
      throw new MeshError(
        Code.PERMISSION_DENIED,
        `an agent may act only on its own registration ("${callerName ?? ''}"), not on ${quote(id)}`,
      );
    }
    if (!record) throw new MeshError(Code.NOT_FOUND, `no agent ${quote(id)} is registered: register first`);
    return record;
  }

  private clampTtl(requested: number): number {
    if (!Number.isFinite(requested) || requested <= 0) return this.leases.defaultTtlMs;
    return Math.min(this.leases.maxTtlMs, Math.max(this.leases.minTtlMs, Math.round(requested)));
  }
}

function unentitledMessage(
  callerId: string,
  spec: Pick<AgentSpec, 'name' | 'type'>,
  entitled: readonly string[],
): string {
  const has =
    entitled.length === 0 ? 'no agent type' : `only ${entitled.map((type) => `${quote(type)}`).join(', ')}`;
  return (
    `${quote(callerId)} is not entitled to register as type ${quote(spec.type)}: its certificate and the policies' ` +
    `grants entitle it to ${has}. Grant it by issuing its certificate with the type (agent-mesh ca issue ` +
    `${spec.name} --type ${spec.type}, or agent-mesh token create --name ${spec.name} --type ${spec.type}) or ` +
    `with a policy grant {"callers": ["${callerId.slice(0, 200)}"], "types": [${quote(spec.type)}]}`
  );
}
