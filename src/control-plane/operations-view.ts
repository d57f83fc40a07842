import type { Logger } from '../observability/logger.js';
import {
  ActivityLog,
  activityFromCallReport,
  activityFromChange,
  type ActivityEntry,
  type ActivityInput,
} from './activity.js';
import type { AgentRecord, Health, Skill } from '../core/agent-record.js';
import type { PolicySet } from '../core/policy.js';
import type { Subscription } from '../core/subscription.js';
import {
  CallGraph,
  type CallEdge,
  type CallReport,
  type CallSeriesPoint,
  type RecordOutcome,
} from './call-graph.js';
import { LoadHistory, type LoadPoint } from './load-history.js';
import type { ControlPlaneState } from './state.js';

/**
 * How far back the history goes, in minutes (one bucket per minute): the dashboard's time range picks 1 to this
 * many. The live view (the last minute) comes from the call graph's 5 s buckets instead.
 */
export const HISTORY_MINUTES = 60;
/** Most distinct caller→callee edges the history keeps per minute; more are ignored for that minute. */
export const HISTORY_EDGES_PER_MINUTE = 512;
/** Most activity entries of one agent its page shows. */
const AGENT_ERRORS_SHOWN = 20;

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

/**
 * Events from a topic pattern to the agents of one type subscribed to it. Events go from publisher to subscriber
 * directly and are not reported to the control plane: these edges come from the subscriptions agents register,
 * not from traffic (no rates, no publisher).
 */
export interface EventEdge {
  /** The subscription's topic pattern, e.g. `tasks.>`. */
  topic: string;
  toType: string;
  /** The subscribing agents' ids, sorted. */
  subscribers: string[];
  /** Queue groups among them, sorted; empty when each gets every event. */
  groups: string[];
}

/** `/api/topology`: who calls whom over the window, by type and by agent. */
export interface TopologyView {
  generatedAt: number;
  windowSeconds: number;
  /** The range asked for (`?minutes=`), when it is not the live window. */
  rangeMinutes?: number;
  /** Agent types with their size, including types with no calls. */
  types: Array<{ type: string; agents: number; counts: Record<Health, number> }>;
  typeEdges: CallEdge[];
  agentEdges: CallEdge[];
  /** Subscriptions as edges from topic patterns to agent types, sorted by topic then type. */
  eventEdges: EventEdge[];
}

/** `/api/calls`: the calls between agents per method (what `agent-mesh top` shows). */
export interface CallsView {
  generatedAt: number;
  windowSeconds: number;
  /** The range asked for (`?minutes=`), when it is not the live window. */
  rangeMinutes?: number;
  /** One edge per caller, callee and method, busiest first. */
  methodEdges: CallEdge[];
}

/** `/api/agent?id=`: one agent, for its page. */
export interface AgentDetailView {
  generatedAt: number;
  /** The range its calls are summed over, in minutes. */
  rangeMinutes: number;
  agent: AgentView;
  skills: Skill[];
  subscriptions: Subscription[];
  /** The calls it made, by callee and over the range, busiest first. */
  callsOut: CallEdge[];
  /** The calls it received (as its callers reported them). */
  callsIn: CallEdge[];
  /** Its calls per minute over the whole history (the last hour, whatever the range), oldest first. */
  calls: CallSeriesPoint[];
  /** Its load per minute over the whole history, oldest first (minutes without a report are missing). */
  load: LoadPoint[];
  /** Its latest warnings and errors in the activity log, newest first. */
  errors: ActivityEntry[];
}

/** One subscription to a topic pattern. */
export interface TopicSubscriberView {
  agentId: string;
  agentType: string;
  health: Health;
  group: string;
  maxInFlight: number;
}

/** `/api/topics`: the registered subscriptions by topic pattern. */
export interface TopicsView {
  generatedAt: number;
  topics: Array<{
    pattern: string;
    subscribers: TopicSubscriberView[];
    /** Queue groups with their members (each group gets every event once, split among its members). */
    groups: Array<{ group: string; members: number }>;
    /** Subscriptions outside any group: each gets every event. */
    ungrouped: number;
  }>;
}

/** `/api/policies`: the policies in force (read-only). */
export interface PoliciesView {
  generatedAt: number;
  /** The store revision of the policies; 0 when none were ever set (everything is allowed). */
  revision: number;
  policies: PolicySet;
}

/** What changed, for live updates. */
export type OperationsChange = 'agents' | 'activity';

/** Options for {@link OperationsView}. */
export interface OperationsViewOptions {
  state: ControlPlaneState;
  logger: Logger;
  callGraph?: CallGraph;
  /** The per-minute call history behind the time range (default: {@link HISTORY_MINUTES} minutes). */
  callHistory?: CallGraph;
  /** Each agent's load per minute (default: an hour, for at most 4,096 agents). */
  loadHistory?: LoadHistory;
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
  /** The per-minute call history of the last {@link HISTORY_MINUTES} minutes, behind the dashboard's time range. */
  readonly callHistory: CallGraph;
  /** Each agent's load per minute over the same hour. */
  readonly loadHistory: LoadHistory;
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
    this.callHistory =
      options.callHistory ??
      new CallGraph({
        clock: this.clock,
        bucketMs: 60_000,
        windowMs: HISTORY_MINUTES * 60_000,
        maxEdgesPerBucket: HISTORY_EDGES_PER_MINUTE,
      });
    this.loadHistory = options.loadHistory ?? new LoadHistory({ clock: this.clock });
    this.activity = options.activity ?? new ActivityLog({ clock: this.clock });
    for (const record of this.state.registry.all()) this.loadHistory.record(record.id, record.load);
    this.stopFollowing = this.state.subscribe(
      (change) => {
        if (change.kind === 'agent' && change.type === 'delete') {
          this.certificates.delete(change.record.id);
          this.loadHistory.forget(change.record.id);
        }
        if (change.kind === 'agent' && change.type === 'put')
          this.loadHistory.record(change.record.id, change.record.load);
        if (change.kind === 'load') this.loadHistory.record(change.agentId, change.load);
        const input = activityFromChange(change);
        if (input) this.note(input);
        if (change.kind === 'agent') this.emit('agents');
      },
      (why) => {
        // Settling after a start is routine; only a reload after a broken store watch is worth a warning.
        if (why === 'reloaded') {
          this.note({
            kind: 'control-plane',
            severity: 'warning',
            message: 'the store watch broke: state reloaded from the store',
          });
        }
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
    // The history takes what the graph accepted (already checked); its own edge cap may refuse some more.
    this.callHistory.record(caller, outcome.accepted);
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

  /** The calls between agents per method, over the live window or the last `minutes` of the history. */
  calls(minutes?: number): CallsView {
    const range = this.rangeMs(minutes);
    const graph = range === undefined ? this.callGraph : this.callHistory;
    return {
      generatedAt: this.clock.now(),
      windowSeconds: range === undefined ? this.callGraph.windowSeconds : range / 1_000,
      ...(range === undefined ? {} : { rangeMinutes: range / 60_000 }),
      methodEdges: graph.methodEdges(range),
    };
  }

  /**
   * The call graph over its window (the live view), or over the last `minutes` of the history when given (1 to
   * {@link HISTORY_MINUTES}), with every registered type as a node and the subscriptions as event edges.
   */
  topology(minutes?: number): TopologyView {
    const range = this.rangeMs(minutes);
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
    const graph = range === undefined ? this.callGraph : this.callHistory;
    const typeEdges = graph.typeEdges(range);
    // Types that called or were called in the window but have no agent registered now still appear.
    for (const edge of typeEdges) {
      for (const type of [edge.from, edge.to]) {
        if (!types.has(type)) types.set(type, { type, agents: 0, counts: healthCounts() });
      }
    }
    return {
      generatedAt: this.clock.now(),
      windowSeconds: range === undefined ? this.callGraph.windowSeconds : range / 1_000,
      ...(range === undefined ? {} : { rangeMinutes: range / 60_000 }),
      types: [...types.values()].sort((a, b) => compare(a.type, b.type)),
      typeEdges,
      agentEdges: graph.agentEdges(range),
      eventEdges: this.eventEdges(),
    };
  }

  /**
   * One agent with its card, subscriptions, calls in and out over the last `minutes` of the history (1 to
   * {@link HISTORY_MINUTES}, the default; whole minutes, the current one included; 1 is the live window of the last
   * 60 s), its calls and load per minute and its latest problems; undefined when no agent has
   * that id.
   */
  agentDetail(id: string, minutes?: number): AgentDetailView | undefined {
    const record = this.state.registry.get(id);
    if (!record) return undefined;
    const range =
      minutes === undefined || !Number.isFinite(minutes)
        ? HISTORY_MINUTES * 60_000
        : Math.min(HISTORY_MINUTES, Math.max(1, Math.round(minutes))) * 60_000;
    // A range of a minute is the live window (the last 60 s, in 5 s buckets), as on the overview.
    const edges = range <= 60_000 ? this.callGraph.agentEdges() : this.callHistory.agentEdges(range);
    return {
      generatedAt: this.clock.now(),
      rangeMinutes: range / 60_000,
      agent: this.agentView(record),
      skills: record.spec.skills,
      subscriptions: record.spec.subscriptions,
      callsOut: edges.filter((edge) => edge.from === id),
      callsIn: edges.filter((edge) => edge.to === id),
      calls: this.callHistory.series(id),
      load: this.loadHistory.points(id),
      errors: this.activity
        .recent()
        .filter((entry) => (entry.agentId === id || entry.peerId === id) && entry.severity !== 'info')
        .slice(0, AGENT_ERRORS_SHOWN),
    };
  }

  /** The registered subscriptions by topic pattern (patterns and subscribers sorted). */
  topics(): TopicsView {
    const topics = new Map<string, TopicSubscriberView[]>();
    for (const record of this.state.registry.all()) {
      for (const subscription of record.spec.subscriptions) {
        let list = topics.get(subscription.pattern);
        if (!list) topics.set(subscription.pattern, (list = []));
        list.push({
          agentId: record.id,
          agentType: record.spec.type,
          health: record.health,
          group: subscription.group,
          maxInFlight: subscription.maxInFlight,
        });
      }
    }
    return {
      generatedAt: this.clock.now(),
      topics: [...topics.entries()]
        .sort(([a], [b]) => compare(a, b))
        .map(([pattern, subscribers]) => {
          subscribers.sort((a, b) => compare(a.agentId, b.agentId) || compare(a.group, b.group));
          const groups = new Map<string, number>();
          for (const { group } of subscribers) if (group) groups.set(group, (groups.get(group) ?? 0) + 1);
          return {
            pattern,
            subscribers,
            groups: [...groups.entries()]
              .sort(([a], [b]) => compare(a, b))
              .map(([group, members]) => ({ group, members })),
            ungrouped: subscribers.filter((subscriber) => !subscriber.group).length,
          };
        }),
    };
  }

  /** The policies in force. */
  policies(): PoliciesView {
    return {
      generatedAt: this.clock.now(),
      revision: this.state.policiesRevision,
      policies: this.state.policies,
    };
  }

  /** A range in minutes as ms within the history, or undefined for the live window (none, or 1 minute or less). */
  private rangeMs(minutes: number | undefined): number | undefined {
    if (minutes === undefined || !Number.isFinite(minutes) || minutes <= 1) return undefined;
    return Math.min(HISTORY_MINUTES, Math.round(minutes)) * 60_000;
  }

  private eventEdges(): EventEdge[] {
    const edges = new Map<
      string,
      { topic: string; toType: string; subscribers: Set<string>; groups: Set<string> }
    >();
    for (const record of this.state.registry.all()) {
      for (const subscription of record.spec.subscriptions) {
        const key = `${subscription.pattern}\n${record.spec.type}`;
        let edge = edges.get(key);
        if (!edge) {
          edge = {
            topic: subscription.pattern,
            toType: record.spec.type,
            subscribers: new Set(),
            groups: new Set(),
          };
          edges.set(key, edge);
        }
        edge.subscribers.add(record.id);
        if (subscription.group) edge.groups.add(subscription.group);
      }
    }
    return [...edges.values()]
      .sort((a, b) => compare(a.topic, b.topic) || compare(a.toType, b.toType))
      .map((edge) => ({
        topic: edge.topic,
        toType: edge.toType,
        subscribers: [...edge.subscribers].sort(),
        groups: [...edge.groups].sort(),
      }));
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
