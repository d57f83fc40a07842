import type { AgentRecord, AgentSpec, Health, LoadReport } from '../core/agent-record.js';

/** Store keys of the control plane. */
export const KEYS = {
  root: 'agentmesh/',
  agentPrefix: 'agentmesh/agents/',
  agent: (id: string) => `agentmesh/agents/${id}`,
  /** An agent's load, apart from its record: heartbeats rewrite this small key, never the record. */
  loadPrefix: 'agentmesh/load/',
  load: (id: string) => `agentmesh/load/${id}`,
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
  /** See {@link AgentRecord.certificateTypes}. */
  certificateTypes?: readonly string[];
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
    ...(record.certificateTypes ? { certificateTypes: record.certificateTypes } : {}),
    ...changes,
  };
}

/**
 * The record of agent `id` from its stored form, at store revision `revision`, with its lease ending at
 * `leaseExpiresAt`.
 * @throws TypeError for a stored value without a spec (an unreadable record: the caller logs and skips it).
 */
export function agentRecord(
  id: string,
  stored: StoredAgent,
  revision: number,
  leaseExpiresAt: number,
): AgentRecord {
  return {
    id,
    // Records written before subscriptions existed have none.
    spec: { ...stored.spec, subscriptions: stored.spec.subscriptions ?? [] },
    spiffeId: stored.spiffeId,
    health: stored.health,
    load: stored.load,
    registeredAt: stored.registeredAt,
    leaseExpiresAt,
    leaseTtlMs: stored.leaseTtlMs,
    revision,
    ...(stored.certificateTypes ? { certificateTypes: stored.certificateTypes } : {}),
  };
}

/** A load report as stored under {@link KEYS.load}; anything else in the value is ignored. */
export function parseLoad(value: string): LoadReport | undefined {
  try {
    const parsed = JSON.parse(value) as Partial<LoadReport>;
    const count = (n: unknown) => (Number.isSafeInteger(n) && (n as number) >= 0 ? (n as number) : 0);
    return { inFlight: count(parsed.inFlight), queueDepth: count(parsed.queueDepth) };
  } catch {
    return undefined;
  }
}

/** Why a record was written again, as watchers are told: what changed from `previous`. */
export function describePut(previous: AgentRecord | undefined, record: AgentRecord): string {
  if (!previous) return 'registered';
  if (previous.registeredAt !== record.registeredAt) return 're-registered';
  if (previous.health !== record.health) {
    if (record.health === 'draining') return 'draining';
    return record.health === 'healthy' ? 'health checks passing' : 'health checks failing';
  }
  return 'load reported';
}
