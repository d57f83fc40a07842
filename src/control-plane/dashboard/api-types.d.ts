/**
 * The JSON the dashboard page reads: `/api/info`, `/api/agents`, `/api/topology` and `/api/activity`, and the
 * events of `/api/stream` that carry the same. These are the server's own types, re-exported for the browser code's
 * JSDoc (`@typedef {import('./api-types.js').AgentsView}`), so that the page cannot read a field the server does
 * not send. Declarations only: nothing here is served or loaded by the page.
 */

export type { ActivityEntry, ActivityKind, ActivitySeverity } from '../activity.js';
export type { CallEdge } from '../call-graph.js';
export type { AgentTypeView, AgentView, AgentsView, TopologyView } from '../operations-view.js';
export type { Health } from '../../core/agent-record.js';
export type { DashboardInfo } from './dashboard-routes.js';

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
