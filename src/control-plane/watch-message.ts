import type { AgentRecord, LoadReport } from '../core/agent-record.js';
import type { PolicySet } from '../core/policy.js';
import type { WatchScope } from '../core/watch-scope.js';
import type { WatchEvent__Output } from '../generated/agentmesh/v1/WatchEvent.js';
import type { WatchScope as WireScope, WatchScope__Output } from '../generated/agentmesh/v1/WatchScope.js';
import { policiesFromWire, recordFromWire } from './convert.js';

/** One message of a watch stream, in domain terms. */
export type WatchMessage =
  | {
      kind: 'snapshot';
      revision: number;
      agents: AgentRecord[];
      policies: PolicySet;
      /** The control plane is still hearing from agents after a restart with an empty store: keep the others. */
      partial: boolean;
      /** Whether the policies were ever set in the store (a fresh in-memory control plane has none yet). */
      policiesSet: boolean;
    }
  | { kind: 'agent'; revision: number; type: 'put' | 'delete'; record: AgentRecord; reason: string }
  | { kind: 'load'; revision: number; agentId: string; load: LoadReport }
  | { kind: 'policies'; revision: number; policies: PolicySet }
  | { kind: 'progress'; revision: number };

/** A running watch stream. */
export interface WatchHandle {
  cancel(): void;
}

/** How a watch is opened. */
export interface WatchOptions {
  /** Only these agents (and the policies); without it, every agent. A watch resumes only with the same scope. */
  scope?: WatchScope;
}

/** A scope on the wire. */
export function scopeToWire(scope: WatchScope): WireScope {
  return {
    targets: scope.targets.map((query) => ({
      type: query.type ?? '',
      capabilities: [...(query.capabilities ?? [])],
      labelSelector: query.labelSelector ?? '',
      skill: query.skill ?? '',
      skillTag: query.skillTag ?? '',
    })),
    agentIds: [...scope.agentIds],
    topics: [...scope.topics],
  };
}

/** A scope from the wire, its empty fields left out of each query. */
export function scopeFromWire(scope: WatchScope__Output): WatchScope {
  return {
    targets: scope.targets.map((target) => ({
      ...(target.type ? { type: target.type } : {}),
      ...(target.capabilities.length ? { capabilities: target.capabilities } : {}),
      ...(target.labelSelector ? { labelSelector: target.labelSelector } : {}),
      ...(target.skill ? { skill: target.skill } : {}),
      ...(target.skillTag ? { skillTag: target.skillTag } : {}),
    })),
    agentIds: scope.agentIds,
    topics: scope.topics,
  };
}

/** A watch message in domain terms. */
export function watchFromWire(event: WatchEvent__Output): WatchMessage {
  const revision = Number(event.revision);
  switch (event.kind) {
    case 'snapshot':
      return {
        kind: 'snapshot',
        revision,
        agents: (event.snapshot?.agents ?? []).map(recordFromWire),
        policies: event.snapshot?.policies
          ? policiesFromWire(event.snapshot.policies)
          : { defaultEffect: 'allow', rules: [] },
        partial: event.snapshot?.partial ?? false,
        policiesSet: Number(event.snapshot?.policies?.revision ?? 0) > 0,
      };
    case 'agent':
      return {
        kind: 'agent',
        revision,
        type: event.agent?.type === 'TYPE_DELETE' ? 'delete' : 'put',
        record: recordFromWire(event.agent!.agent!),
        reason: event.agent?.reason ?? '',
      };
    case 'load':
      return {
        kind: 'load',
        revision,
        agentId: event.load?.agentId ?? '',
        load: { inFlight: event.load?.load?.inFlight ?? 0, queueDepth: event.load?.load?.queueDepth ?? 0 },
      };
    case 'policies':
      return { kind: 'policies', revision, policies: policiesFromWire(event.policies!) };
    default:
      return { kind: 'progress', revision };
  }
}
