/**
 * The JSON the dashboard page reads: `/api/info`, `/api/agents`, `/api/topology` and `/api/activity`, and the
 * events of `/api/stream` that carry the same. Written out here (not imported) so that the browser code is checked
 * without the server's code and Node's types; `test/control-plane/dashboard-page.test.ts` checks at compile time
 * that these are the very shapes `dashboard-routes.ts` and `operations-view.ts` send.
 */

/** An agent's health in the registry. */
export type Health = 'healthy' | 'unhealthy' | 'draining';

/** How many agents have each health. */
export type HealthCounts = Record<Health, number>;

/** `/api/info` and the `info` event: public facts about the control plane replica serving the page. */
export interface DashboardInfo {
  /** The gRPC address agents use. */
  address: string;
  spiffeId: string;
  trustDomain: string;
  store: string;
  startedAt: number;
  /** When the control plane's own certificate expires (ms since the epoch). */
  certificateExpiresAt: number;
  healthCheckLeader: boolean;
}

/** One agent as the page shows it. Times are ms since the epoch, on the server's clock. */
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
  /** Absent when this replica has not seen the agent's certificate (the page shows the lease instead). */
  certificateExpiresAt?: number;
}

/** Agents of one type. */
export interface AgentTypeView {
  type: string;
  counts: HealthCounts;
  agents: AgentView[];
}

/** `/api/agents` and the `agents` event. */
export interface AgentsView {
  /** The server's clock when it made this view: the page corrects its own clock by it. */
  generatedAt: number;
  revision: number;
  total: number;
  counts: HealthCounts;
  types: AgentTypeView[];
}

/** Calls from one agent (or type) to another over the window. */
export interface CallEdge {
  from: string;
  fromType: string;
  to: string;
  toType: string;
  methods: string[];
  calls: number;
  errors: number;
  ratePerSecond: number;
  /** errors / calls. */
  errorRatio: number;
  latencyMsMean: number;
  latencyMsMax: number;
  lastError?: string;
  lastErrorAt?: number;
}

/** One agent type in the topology, with its size. */
export interface TopologyType {
  type: string;
  agents: number;
  counts: HealthCounts;
}

/** `/api/topology` and the `topology` event: who calls whom, by type and by agent. */
export interface TopologyView {
  generatedAt: number;
  windowSeconds: number;
  types: TopologyType[];
  typeEdges: CallEdge[];
  agentEdges: CallEdge[];
}

/** What an activity entry is about. */
export type ActivityKind =
  | 'joined'
  | 'left'
  | 'expired'
  | 'health'
  | 'draining'
  | 'call-failures'
  | 'certificate'
  | 'policies'
  | 'control-plane';

/** How much an operator should care about an activity entry. */
export type ActivitySeverity = 'info' | 'warning' | 'error';

/** One entry of `/api/activity` and the `activity` event. */
export interface ActivityEntry {
  seq: number;
  /** When it last happened. */
  at: number;
  /** When it first happened, for a merged entry. */
  firstAt: number;
  /** How many events this entry stands for. */
  count: number;
  kind: ActivityKind;
  severity: ActivitySeverity;
  message: string;
  agentId?: string;
  agentType?: string;
}

/** The events of `/api/stream`, by name, with the JSON each carries. */
export interface StreamEvents {
  info: DashboardInfo;
  agents: AgentsView;
  topology: TopologyView;
  activity: ActivityEntry[];
}
