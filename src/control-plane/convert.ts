/**
 * Translation between wire messages (generated from proto/agentmesh/v1) and the control plane's domain types.
 * The gRPC service and client use it; nothing else in the domain sees proto types.
 */
import type { AgentRecord as AgentRecordMessage } from '../generated/agentmesh/v1/AgentRecord.js';
import type { AgentSpec__Output } from '../generated/agentmesh/v1/AgentSpec.js';
import type { HealthStatus__Output } from '../generated/agentmesh/v1/HealthStatus.js';
import type { AgentRecord__Output } from '../generated/agentmesh/v1/AgentRecord.js';
import type { PolicyAction__Output } from '../generated/agentmesh/v1/PolicyAction.js';
import type {
  PolicySet as PolicySetMessage,
  PolicySet__Output,
} from '../generated/agentmesh/v1/PolicySet.js';
import type { AgentRecord, AgentSpec, Health } from '../core/agent-record.js';
import type { Grant, PolicyAction, PolicySet } from '../core/policy.js';

const HEALTH_TO_WIRE: Record<Health, HealthStatus__Output> = {
  healthy: 'HEALTH_STATUS_HEALTHY',
  unhealthy: 'HEALTH_STATUS_UNHEALTHY',
  draining: 'HEALTH_STATUS_DRAINING',
};

const HEALTH_FROM_WIRE: Partial<Record<HealthStatus__Output, Health>> = {
  HEALTH_STATUS_HEALTHY: 'healthy',
  HEALTH_STATUS_UNHEALTHY: 'unhealthy',
  HEALTH_STATUS_DRAINING: 'draining',
};

const ACTION_TO_WIRE: Record<PolicyAction, PolicyAction__Output> = {
  invoke: 'POLICY_ACTION_INVOKE',
  publish: 'POLICY_ACTION_PUBLISH',
  subscribe: 'POLICY_ACTION_SUBSCRIBE',
};

/** A spec from the wire (defaults already filled in by the loader). */
export function specFromWire(spec: AgentSpec__Output | null): AgentSpec {
  return {
    type: spec?.type ?? '',
    name: spec?.name ?? '',
    capabilities: spec?.capabilities ?? [],
    labels: spec?.labels ?? {},
    endpoint: spec?.endpoint ?? '',
    weight: spec?.weight ?? 0,
    maxConcurrency: spec?.maxConcurrency ?? 0,
    description: spec?.description ?? '',
    subscriptions: (spec?.subscriptions ?? []).map((subscription) => ({
      pattern: subscription.pattern,
      group: subscription.group,
      maxInFlight: subscription.maxInFlight,
    })),
    skills: (spec?.skills ?? []).map((skill) => ({
      id: skill.id,
      name: skill.name,
      description: skill.description,
      tags: skill.tags,
      inputSchema: skill.inputSchema,
      outputSchema: skill.outputSchema,
      inputContentTypes: skill.inputContentTypes,
      outputContentTypes: skill.outputContentTypes,
      examples: skill.examples,
      ...(skill.streaming ? { streaming: true } : {}),
    })),
    ...(spec?.meshVersion ? { meshVersion: spec.meshVersion } : {}),
  };
}

export function recordToWire(record: AgentRecord): AgentRecordMessage {
  return {
    id: record.id,
    spec: record.spec,
    spiffeId: record.spiffeId,
    health: HEALTH_TO_WIRE[record.health],
    load: record.load,
    registeredAtUnixMs: record.registeredAt,
    leaseExpiresAtUnixMs: record.leaseExpiresAt,
    leaseTtlMs: record.leaseTtlMs,
    revision: record.revision,
  };
}

export function recordFromWire(record: AgentRecord__Output): AgentRecord {
  return {
    id: record.id,
    spec: specFromWire(record.spec),
    spiffeId: record.spiffeId,
    health: HEALTH_FROM_WIRE[record.health] ?? 'unhealthy',
    load: { inFlight: record.load?.inFlight ?? 0, queueDepth: record.load?.queueDepth ?? 0 },
    registeredAt: Number(record.registeredAtUnixMs),
    leaseExpiresAt: Number(record.leaseExpiresAtUnixMs),
    leaseTtlMs: Number(record.leaseTtlMs),
    revision: Number(record.revision),
  };
}

export function policiesToWire(policies: PolicySet, revision: number): PolicySetMessage {
  return {
    defaultEffect: policies.defaultEffect === 'deny' ? 'POLICY_EFFECT_DENY' : 'POLICY_EFFECT_ALLOW',
    rules: policies.rules.map((rule) => ({
      ...rule,
      effect: rule.effect === 'deny' ? 'POLICY_EFFECT_DENY' : 'POLICY_EFFECT_ALLOW',
      actions: rule.actions.map((action) => ACTION_TO_WIRE[action]),
    })),
    rateLimits: policies.rateLimits ?? [],
    grants: policies.grants ?? [],
    revokedIdentities: policies.revokedIdentities ?? [],
    revision,
  };
}

/**
 * A policy set from the wire. Unspecified effects and actions become invalid values on purpose, so that
 * validation refuses them instead of guessing.
 */
export function policiesFromWire(policies: PolicySet__Output): PolicySet {
  const effect = (wire: string) =>
    (wire === 'POLICY_EFFECT_DENY'
      ? 'deny'
      : wire === 'POLICY_EFFECT_ALLOW'
        ? 'allow'
        : wire) as PolicySet['defaultEffect'];
  const action = (wire: string) =>
    (Object.entries(ACTION_TO_WIRE).find(([, value]) => value === wire)?.[0] ?? wire) as PolicyAction;
  return {
    defaultEffect: effect(policies.defaultEffect),
    rules: policies.rules.map((rule) => ({
      id: rule.id,
      effect: effect(rule.effect),
      actions: rule.actions.map(action),
      callers: rule.callers,
      callerTypes: rule.callerTypes,
      targetTypes: rule.targetTypes,
      methods: rule.methods,
      topics: rule.topics,
    })),
    rateLimits: (policies.rateLimits ?? []).map((limit) => ({
      id: limit.id,
      callers: limit.callers,
      callerTypes: limit.callerTypes,
      targetTypes: limit.targetTypes,
      methods: limit.methods,
      requestsPerSecond: limit.requestsPerSecond,
      burst: limit.burst,
      tokensPerMinute: Number(limit.tokensPerMinute),
    })),
    grants: (policies.grants ?? []).map((grant) => ({
      id: grant.id,
      callers: grant.callers,
      callerTypes: grant.callerTypes,
      types: grant.types,
      priority: grant.priority as Grant['priority'],
    })),
    revokedIdentities: policies.revokedIdentities ?? [],
  };
}
