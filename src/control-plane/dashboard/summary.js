// @ts-check
// The header (which control plane serves the page) and the summary tiles (agents by health, calls, errors).
import { DEMO_TITLE, demoAgents, isDemoEdge } from './demo.js';
import { byId, h } from './dom.js';
import { formatPercent, formatRate } from './format.js';
import { CERTIFICATE_WARNING_MS, refreshRelativeTimes, relativeTime } from './time.js';

/** @typedef {import('./api-types.js').AgentsView} AgentsView */
/** @typedef {import('./api-types.js').DashboardInfo} DashboardInfo */
/** @typedef {import('./api-types.js').TopologyView} TopologyView */

/**
 * Shows the control plane replica's identity, address, store, certificate expiry and leadership.
 * @param {DashboardInfo} info
 */
export function renderInfo(info) {
  byId('control-plane').replaceChildren(
    h('span', {}, 'control plane ', h('b', { class: 'mono', text: info.spiffeId })),
    h('span', {}, 'gRPC ', h('b', { class: 'mono', text: info.address })),
    h('span', {}, 'store ', h('b', { text: info.store })),
    h(
      'span',
      {},
      'certificate expires ',
      h('b', {}, relativeTime(info.certificateExpiresAt, { warnWithinMs: CERTIFICATE_WARNING_MS })),
    ),
    h('span', {}, h('b', { text: info.healthCheckLeader ? 'health-check leader' : 'follower' })),
  );
  refreshRelativeTimes();
}

/**
 * Shows the tiles: agents, types, health counts, the call rate and the error ratio (zeros before data arrives).
 * @param {AgentsView | undefined} agents
 * @param {TopologyView | undefined} topology
 */
export function renderSummary(agents, topology) {
  const edges = topology?.typeEdges ?? [];
  const calls = edges.reduce((sum, edge) => sum + edge.calls, 0);
  const errors = edges.reduce((sum, edge) => sum + edge.errors, 0);
  const rate = edges.reduce((sum, edge) => sum + edge.ratePerSecond, 0);
  const demo = demoAgents(agents);
  const expected = (topology?.agentEdges ?? [])
    .filter((edge) => isDemoEdge(edge, demo))
    .reduce((sum, edge) => sum + edge.errors, 0);
  /**
   * @param {string} label
   * @param {string | number} value
   * @param {string} [className]
   * @param {HTMLElement | null} [note]
   */
  const tile = (label, value, className, note) =>
    h('div', { class: `tile ${className ?? ''}`, dataset: { tile: label } }, [
      h('div', { class: 'label', text: label }),
      h('div', { class: 'value', text: value }),
      note ?? null,
    ]);
  const counts = agents?.counts ?? { healthy: 0, unhealthy: 0, draining: 0 };
  const ratio = calls === 0 ? 0 : errors / calls;
  const unexpected = calls === 0 ? 0 : (errors - expected) / calls;
  const demoNote =
    expected > 0
      ? h('div', {
          class: 'tile-note',
          title: DEMO_TITLE,
          text: `${formatPercent(expected / calls)} expected (demo), ${formatPercent(unexpected)} other`,
        })
      : null;
  byId('summary').replaceChildren(
    tile('Agents', agents?.total ?? 0),
    tile('Types', agents?.types.length ?? 0),
    tile('Healthy', counts.healthy, counts.healthy ? 'healthy' : 'zero'),
    tile('Unhealthy', counts.unhealthy, counts.unhealthy ? 'unhealthy' : 'zero'),
    tile('Draining', counts.draining, counts.draining ? 'draining' : 'zero'),
    tile('Calls/s', formatRate(rate)),
    tile(
      'Error ratio',
      formatPercent(ratio),
      unexpected >= 0.05 ? 'unhealthy' : unexpected > 0 ? 'draining' : '',
      demoNote,
    ),
  );
}
