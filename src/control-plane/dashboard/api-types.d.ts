/**
 * The JSON the dashboard page reads: `/api/info`, `/api/agents`, `/api/topology`, `/api/agent`, `/api/topics`,
 * `/api/policies` and `/api/activity`, and the
 * events of `/api/stream` that carry the same. These are the server's own types, re-exported for the browser code's
 * JSDoc (`@typedef {import('./api-types.js').AgentsView}`), so that the page cannot read a field the server does
 * not send. Declarations only: nothing here is served or loaded by the page.
 */

export type { ActivityEntry, ActivityKind, ActivitySeverity } from '../activity.js';
export type { CallEdge, CallSeriesPoint } from '../call-graph.js';
export type { LoadPoint } from '../load-history.js';
export type {
  AgentDetailView,
  AgentTypeView,
  AgentView,
  AgentsView,
  EventEdge,
  PoliciesView,
  TopicSubscriberView,
  TopicsView,
  TopologyView,
} from '../operations-view.js';
export type { Health, Skill } from '../../core/agent-record.js';
export type { PolicyRule, PolicySet } from '../../core/policy.js';
export type { Subscription } from '../../core/subscription.js';
export type { DashboardInfo, EventsView } from './dashboard-routes.js';
export type { EventStoreDescription } from '../event-store.js';

import type { ActivityEntry } from '../activity.js';
import type { AgentsView, TopologyView } from '../operations-view.js';
import type { DashboardInfo } from './dashboard-routes.js';

/** One agent type in the topology, with its size. */
export type TopologyType = TopologyView['types'][number];

/** The events of `/api/stream`, by name, with the JSON each carries. */
export interface StreamEvents {
  info: DashboardInfo;
  agents: AgentsView;
  topology: TopologyView;
  activity: ActivityEntry[];
}
