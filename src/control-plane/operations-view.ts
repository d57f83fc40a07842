import type { Logger } from '../observability/logger.js';
import {
  ActivityLog,
  activityFromCallReport,
  activityFromChange,
  type ActivityEntry,
  type ActivityInput,
} from './activity.js';
import type { AgentRecord, Health } from '../core/agent-record.js';
import { CallGraph, type CallEdge, type CallReport, type RecordOutcome } from './call-graph.js';
import type { ControlPlaneState } from './state.js';

/** One agent as the dashboard shows it: the registry record's public parts and what this replica saw of it. */
export interface AgentView {
  id: string;
  type: string;
  spiffeId: string;
  endpoint: string;
  health: Health;
  inFlight: number;
  queueDepth: number;
  /** 0 for no limit. */
  maxConcurrency: number;
  capabilities: string[];
  labels: Record<string, string>;
  description: string;
  registeredAt: number;
  leaseExpiresAt: number;
  leaseTtlMs: number;
  /**
   * When the certificate the agent last presented to this replica expires (its registration, heartbeats and
   * renewals reveal it); undefined when this replica has not seen it (the registry does not store it).
   */
  certificateExpiresAt?: number;
}

/** Agents of one type. */
export interface AgentTypeView {
  type: string;
  counts: Record<Health, number>;
  agents: AgentView[];
}

/** `/api/agents`. */
export interface AgentsView {
  generatedAt: number;
  /** The store revision this view reflects. */
  revision: number;
  total: number;
  counts: Record<Health, number>;
  types: AgentTypeView[];
}

/** `/api/topology`: who calls whom over the window, by type and by agent. */
export interface TopologyView {
  generatedAt: number;
  windowSeconds: number;
  /** Agent types with their size, including types with no calls. */
  types: Array<{ type: string; agents: number; counts: Record<Health, number> }>;
  typeEdges: CallEdge[];
  agentEdges: CallEdge[];
}

/** What changed, for live updates. */
export type OperationsChange = 'agents' | 'activity';

/** Options for {@link OperationsView}. */
export interface OperationsViewOptions {
  state: ControlPlaneState;
  logger: Logger;
  callGraph?: CallGraph;
  activity?: ActivityLog;
  clock?: { now(): number };
}

function healthCounts(): Record<Health, number> {
  return { healthy: 0, unhealthy: 0, draining: 0 };
}

/**
 * The operator's view of one replica: the registry grouped by type, the call graph from heartbeats, and the
 * activity log fed by registry changes, failing calls and certificates. It follows the state's changes and
 * tells subscribers what changed; the dashboard and its JSON API read it.
 *
 * Registry changes reach every replica (through the store), but call reports, certificate signings and the
 * certificates agents present are seen only by the replica that handled the request.
 */
export class OperationsView {
  readonly callGraph: CallGraph;
  readonly activity: ActivityLog;
  private readonly state: ControlPlaneState;
  private readonly clock: { now(): number };
  /** Agent id → when the certificate it last presented (or was last issued) expires. */
  private readonly certificates = new Map<string, number>();
  private readonly listeners = new Set<(change: OperationsChange) => void>();
  private readonly stopFollowing: () => void;

  constructor(private readonly options: OperationsViewOptions) {
    this.state = options.state;
    this.clock = options.clock ?? { now: () => Date.now() };
    this.callGraph = options.callGraph ?? new CallGraph({ clock: this.clock });
    this.activity = options.activity ?? new ActivityLog({ clock: this.clock });
    this.stopFollowing = this.state.subscribe(
      (change) => {
        if (change.kind === 'agent' && change.type === 'delete') this.certificates.delete(change.record.id);
        const input = activityFromChange(change);
        if (input) this.note(input);
        if (change.kind === 'agent') this.emit('agents');
      },
      () => {
        this.note({
          kind: 'control-plane',
          severity: 'warning',
          message: 'the store watch broke: state reloaded from the store',
        });
        this.emit('agents');
      },
    );
  }

  /** Stops following the state. */
  stop(): void {
    this.stopFollowing();
    this.listeners.clear();
  }

  /** Calls `listener` on every change; returns a function that stops it. */
  subscribe(listener: (change: OperationsChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds an event to the activity log. */
  note(input: ActivityInput): ActivityEntry {
    const entry = this.activity.add(input);
    this.emit('activity');
    return entry;
  }

  /** An agent registered or heartbeat presenting a certificate that expires at `expiresAt`. */
  certificateSeen(agentId: string, expiresAt: number | undefined): void {
    if (expiresAt === undefined || !Number.isFinite(expiresAt)) return;
    if (!this.state.registry.get(agentId)) return; // kept only for registered agents
    this.certificates.set(agentId, expiresAt);
  }

  /** A heartbeat from `record` came with call reports: into the graph, failures into the activity log. */
  callsReported(record: AgentRecord, reports: readonly CallReport[]): RecordOutcome {
    const caller = { id: record.id, type: record.spec.type };
    const outcome = this.callGraph.record(caller, reports);
    if (outcome.rejected > 0) {
      this.options.logger.debug(
        { agent: record.id, rejected: outcome.rejected, problems: outcome.problems },
        'call reports ignored',
      );
    }
    for (const report of outcome.accepted) {
      const input = activityFromCallReport(caller, report);
      if (input) this.note(input);
    }
    return outcome;
  }

  /** The registry grouped by type (types and agents sorted by name). */
  agents(): AgentsView {
    const types = new Map<string, AgentTypeView>();
    const counts = healthCounts();
    let total = 0;
    for (const record of this.state.registry.all()) {
      let group = types.get(record.spec.type);
      if (!group) {
        group = { type: record.spec.type, counts: healthCounts(), agents: [] };
        types.set(record.spec.type, group);
      }
      group.counts[record.health] += 1;
      counts[record.health] += 1;
      total += 1;
      group.agents.push(this.agentView(record));
    }
    const sorted = [...types.values()].sort((a, b) => compare(a.type, b.type));
    for (const group of sorted) group.agents.sort((a, b) => compare(a.id, b.id));
    return { generatedAt: this.clock.now(), revision: this.state.revision, total, counts, types: sorted };
  }

  /** The call graph over its window, with every registered type as a node. */
  topology(): TopologyView {
    const types = new Map<string, { type: string; agents: number; counts: Record<Health, number> }>();
    for (const record of this.state.registry.all()) {
      let node = types.get(record.spec.type);
      if (!node) {
        node = { type: record.spec.type, agents: 0, counts: healthCounts() };
        types.set(record.spec.type, node);
      }
      node.agents += 1;
      node.counts[record.health] += 1;
    }
    const typeEdges = this.callGraph.typeEdges();
    // Types that called or were called in the window but have no agent registered now still appear.
    for (const edge of typeEdges) {
      for (const type of [edge.from, edge.to]) {
        if (!types.has(type)) types.set(type, { type, agents: 0, counts: healthCounts() });
      }
    }
    return {
      generatedAt: this.clock.now(),
      windowSeconds: this.callGraph.windowSeconds,
      types: [...types.values()].sort((a, b) => compare(a.type, b.type)),
      typeEdges,
      agentEdges: this.callGraph.agentEdges(),
    };
  }

  /** The latest `limit` activity entries, newest first. */
  recentActivity(limit?: number): ActivityEntry[] {
    return this.activity.recent(limit);
  }

  private agentView(record: AgentRecord): AgentView {
    const certificateExpiresAt = this.certificates.get(record.id);
    return {
      id: record.id,
      type: record.spec.type,
      spiffeId: record.spiffeId,
      endpoint: record.spec.endpoint,
      health: record.health,
      inFlight: record.load.inFlight,
      queueDepth: record.load.queueDepth,
      maxConcurrency: record.spec.maxConcurrency,
      capabilities: record.spec.capabilities,
      labels: record.spec.labels,
      description: record.spec.description,
      registeredAt: record.registeredAt,
      leaseExpiresAt: record.leaseExpiresAt,
      leaseTtlMs: record.leaseTtlMs,
      ...(certificateExpiresAt !== undefined ? { certificateExpiresAt } : {}),
    };
  }

  private emit(change: OperationsChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
