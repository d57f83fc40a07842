// @ts-check
/* global console, window, EventSource */
// The agent-mesh dashboard, the page's entry module: renders what the control plane streams at /api/stream
// (server-sent events carrying the same JSON as /api/info, /api/agents, /api/topology and /api/activity). Plain
// ES modules, checked by tsc (src/control-plane/dashboard/tsconfig.json): no framework and no build step.
import { activityPanel } from './activity.js';
import { renderAgents } from './agents.js';
import { byId } from './dom.js';
import { renderInfo, renderSummary } from './summary.js';
import { followServerClock, refreshRelativeTimes } from './time.js';
import { topologyRenderer } from './topology.js';

/** @typedef {import('./api-types.js').AgentsView} AgentsView */
/** @typedef {import('./api-types.js').StreamEvents} StreamEvents */
/** @typedef {import('./api-types.js').TopologyView} TopologyView */
/** @typedef {'connecting' | 'live' | 'reconnecting' | 'disconnected'} LiveState */

/**
 * The latest views the summary draws from (it sums both).
 * @type {{ agents: AgentsView | undefined, topology: TopologyView | undefined }}
 */
const model = { agents: undefined, topology: undefined };
const showActivity = activityPanel();
const renderTopology = topologyRenderer();

/**
 * Shows the state of the live stream in the header.
 * @param {LiveState} state
 * @param {string} text
 */
function setLive(state, text) {
  byId('live').dataset.state = state;
  byId('live-text').textContent = text;
}

/** Opens the stream of live updates; EventSource reconnects by itself (the server asks for 2 s). */
function connect() {
  const source = new EventSource('/api/stream');
  /**
   * Handles one kind of event; an update that cannot be shown is logged and the page keeps the last good one.
   * @template {keyof StreamEvents} N
   * @param {N} name
   * @param {(data: StreamEvents[N]) => void} handle
   */
  const on = (name, handle) =>
    source.addEventListener(name, (event) => {
      try {
        handle(JSON.parse(event.data));
      } catch (error) {
        console.error(`cannot show the ${name} update`, error);
      }
    });
  source.addEventListener('open', () => setLive('live', 'live'));
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) setLive('disconnected', 'disconnected: reload the page');
    else setLive('reconnecting', 'reconnecting…');
  });
  on('info', (info) => renderInfo(info));
  on('agents', (agents) => {
    followServerClock(agents.generatedAt);
    model.agents = agents;
    renderAgents(agents);
    renderSummary(model.agents, model.topology);
  });
  on('topology', (topology) => {
    model.topology = topology;
    renderTopology(topology);
    renderSummary(model.agents, model.topology);
  });
  on('activity', (entries) => showActivity(entries));
}

renderSummary(model.agents, model.topology);
connect();
window.setInterval(refreshRelativeTimes, 1000);
