// @ts-check
/* global console, document, fetch, window, EventSource */
// The agent-mesh dashboard, the page's entry module: renders what the control plane streams at /api/stream
// (server-sent events carrying the same JSON as /api/info, /api/agents, /api/topology and /api/activity), and
// the views it fetches: an agent's page (/api/agent), the topics (/api/topics), the policies (/api/policies), and
// the topology over a longer range (/api/topology?minutes=). Plain ES modules, checked by tsc
// (src/control-plane/dashboard/tsconfig.json): no framework and no build step.
import { activityPanel } from './activity.js';
import { renderAgentPage, renderMissingAgent } from './agent-page.js';
import { renderAgents, wireAgentFilters } from './agents.js';
import { demoAgents } from './demo.js';
import { byId } from './dom.js';
import { renderPolicies } from './policies-page.js';
import { followRoute } from './router.js';
import { renderInfo, renderSummary } from './summary.js';
import { followServerClock, refreshRelativeTimes } from './time.js';
import { renderTopics } from './topics-page.js';
import { topologyRenderer } from './topology.js';

/** @typedef {import('./api-types.js').ActivityEntry} ActivityEntry */
/** @typedef {import('./api-types.js').AgentDetailView} AgentDetailView */
/** @typedef {import('./api-types.js').AgentsView} AgentsView */
/** @typedef {import('./api-types.js').EventsView} EventsView */
/** @typedef {import('./api-types.js').PoliciesView} PoliciesView */
/** @typedef {import('./api-types.js').StreamEvents} StreamEvents */
/** @typedef {import('./api-types.js').TopicsView} TopicsView */
/** @typedef {import('./api-types.js').TopologyView} TopologyView */
/** @typedef {import('./router.js').Route} Route */
/** @typedef {'connecting' | 'live' | 'reconnecting' | 'disconnected'} LiveState */

/**
 * The latest views the summary draws from (it sums both), the route shown and the range chosen (minutes; 1 is
 * the live window the stream carries).
 * @type {{
 *   agents: AgentsView | undefined,
 *   topology: TopologyView | undefined,
 *   activity: ActivityEntry[],
 *   route: Route,
 *   range: number,
 * }}
 */
const model = {
  agents: undefined,
  topology: undefined,
  activity: [],
  route: { view: 'overview' },
  range: 1,
};
const showActivity = activityPanel();
const renderTopology = topologyRenderer();
const VIEWS = /** @type {const} */ (['overview', 'agent', 'topics', 'policies']);

/**
 * Shows the state of the live stream in the header.
 * @param {LiveState} state
 * @param {string} text
 */
function setLive(state, text) {
  byId('live').dataset.state = state;
  byId('live-text').textContent = text;
}

/**
 * GETs JSON from the control plane; undefined for a 404.
 * @template T
 * @param {string} path
 * @returns {Promise<T | undefined>}
 */
async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store' });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return /** @type {T} */ (await response.json());
}

/**
 * A refresher that runs `load` at most once at a time: a call while one runs runs it once more afterwards.
 * @param {() => Promise<void>} load
 * @returns {() => void}
 */
function coalesced(load) {
  let running = false;
  let again = false;
  const run = () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    load()
      .catch((error) => console.error('cannot refresh the view', error))
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          run();
        }
      });
  };
  return run;
}

/** Draws the overview's topology and summary, from the stream (live) or for the range chosen. */
const refreshTopology = coalesced(async () => {
  const topology = model.range > 1 ? await getJson(`/api/topology?minutes=${model.range}`) : model.topology;
  if (!topology) return;
  const demo = demoAgents(model.agents);
  renderTopology(/** @type {TopologyView} */ (topology), demo);
  renderSummary(model.agents, /** @type {TopologyView} */ (topology));
});

/** Fetches and draws the view of the current route, when it is not the overview. */
const refreshView = coalesced(async () => {
  const route = model.route;
  if (route.view === 'agent') {
    const minutes = Math.max(model.range, 1);
    /** @type {AgentDetailView | undefined} */
    const detail = await getJson(`/api/agent?id=${encodeURIComponent(route.id)}&minutes=${minutes}`);
    if (model.route !== route) return;
    if (detail) renderAgentPage(detail, demoAgents(model.agents));
    else renderMissingAgent(route.id);
  } else if (route.view === 'topics') {
    /** @type {[TopicsView | undefined, EventsView | undefined]} */
    const [topics, events] = await Promise.all([getJson('/api/topics'), getJson('/api/events')]);
    if (topics && model.route === route) renderTopics(topics, events);
  } else if (route.view === 'policies') {
    /** @type {PoliciesView | undefined} */
    const policies = await getJson('/api/policies');
    if (policies && model.route === route) renderPolicies(policies);
  }
});

/**
 * Shows the view a route names and marks its link in the header.
 * @param {Route} route
 */
function show(route) {
  model.route = route;
  for (const view of VIEWS) byId(`view-${view}`).hidden = view !== route.view;
  for (const link of /** @type {NodeListOf<HTMLAnchorElement>} */ (document.querySelectorAll('[data-nav]'))) {
    if (link.dataset.nav === route.view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  window.scrollTo(0, 0);
  if (route.view === 'overview') refreshTopology();
  else refreshView();
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
    if (source.readyState === EventSource.CLOSED) setLive('disconnected', 'disconnected: reload');
    else setLive('reconnecting', 'reconnecting…');
  });
  on('info', (info) => renderInfo(info));
  on('agents', (agents) => {
    followServerClock(agents.generatedAt);
    model.agents = agents;
    renderAgents(agents);
    showActivity(model.activity, demoAgents(agents));
    refreshTopology();
    if (model.route.view !== 'overview') refreshView();
  });
  on('topology', (topology) => {
    model.topology = topology;
    refreshTopology();
    // The topology comes every few seconds: the agent's page follows it.
    if (model.route.view === 'agent') refreshView();
  });
  on('activity', (entries) => {
    model.activity = entries;
    showActivity(entries, demoAgents(model.agents));
  });
}

const range = /** @type {HTMLSelectElement} */ (byId('range'));
range.addEventListener('change', () => {
  model.range = Number(range.value) || 1;
  refreshTopology();
  if (model.route.view === 'agent') refreshView();
});
model.range = Number(range.value) || 1;
wireAgentFilters();
renderSummary(model.agents, model.topology);
followRoute(show);
connect();
window.setInterval(refreshRelativeTimes, 1000);
