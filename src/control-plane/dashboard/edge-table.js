// @ts-check
// The table under the topology graph: agent-to-agent edges, busiest first, with their errors and latency
// percentiles; and the cells the agent page's tables share with it.
import { DEMO_NOTE, DEMO_TITLE, isDemoEdge } from './demo.js';
import { byId, h } from './dom.js';
import { formatMs, formatPercent, formatRate, ratioClass } from './format.js';
import { agentHref } from './router.js';
import { refreshRelativeTimes, relativeTime } from './time.js';

/** @typedef {import('./api-types.js').CallEdge} CallEdge */
/** @typedef {import('./api-types.js').TopologyView} TopologyView */

/** Rows shown at most; the rest is counted in a last row. */
const MAX_EDGE_ROWS = 50;
const COLUMNS = 9;

/**
 * A link to an agent's page, with its type under it.
 * @param {string} id
 * @param {string} type
 * @returns {HTMLTableCellElement}
 */
export function agentCell(id, type) {
  return h(
    'td',
    {},
    h('a', { class: 'mono agent-link', href: agentHref(id), text: id }),
    h('span', { class: 'sub', text: type }),
  );
}

/**
 * The error ratio, marked as expected when the edge is demo traffic that fails on purpose.
 * @param {CallEdge} edge
 * @param {Set<string>} demo
 * @returns {HTMLTableCellElement}
 */
export function errorCell(edge, demo) {
  const expected = edge.errors > 0 && isDemoEdge(edge, demo);
  return h(
    'td',
    {
      class: `number ratio-${expected ? 'expected' : ratioClass(edge.errorRatio)}`,
      title: `${edge.errors} of ${edge.calls} calls failed`,
    },
    formatPercent(edge.errorRatio),
    expected ? h('span', { class: 'demo-note', title: DEMO_TITLE, text: DEMO_NOTE }) : null,
  );
}

/**
 * The p50, p95 and p99 cells.
 * @param {CallEdge} edge
 * @returns {HTMLTableCellElement[]}
 */
export function latencyCells(edge) {
  const title = `from call reports, to within a bin; mean ${formatMs(edge.latencyMsMean)}, max ${formatMs(edge.latencyMsMax)}`;
  return [edge.latencyMsP50, edge.latencyMsP95, edge.latencyMsP99].map((ms) =>
    h('td', { class: 'number', title, text: formatMs(ms) }),
  );
}

/**
 * The latest error and when it was reported.
 * @param {CallEdge} edge
 * @returns {HTMLTableCellElement}
 */
export function lastErrorCell(edge) {
  return h(
    'td',
    {},
    edge.lastError ? h('div', { class: 'error-text', title: edge.lastError, text: edge.lastError }) : '—',
    edge.lastErrorAt ? h('span', { class: 'sub' }, relativeTime(edge.lastErrorAt)) : null,
  );
}

/**
 * The methods of an edge, the first three and how many more.
 * @param {string[]} list
 * @returns {string}
 */
export function methodList(list) {
  return list.length <= 3 ? list.join(', ') : `${list.slice(0, 3).join(', ')} +${list.length - 3}`;
}

/**
 * Shows the topology's agent edges (the first {@link MAX_EDGE_ROWS}), or why there are none.
 * @param {TopologyView} topology
 * @param {Set<string>} demo the demo agents that fail on purpose
 */
export function renderEdgeTable(topology, demo) {
  const body = byId('edges-body');
  const edges = topology.agentEdges.slice(0, MAX_EDGE_ROWS);
  if (edges.length === 0) {
    body.replaceChildren(
      h(
        'tr',
        {},
        h('td', {
          colspan: COLUMNS,
          class: 'empty',
          text: `No calls reported in the last ${windowText(topology)}. Agents report their calls with their heartbeats.`,
        }),
      ),
    );
    return;
  }
  body.replaceChildren(
    ...edges.map((edge) =>
      h('tr', { dataset: { from: edge.from, to: edge.to } }, [
        agentCell(edge.from, edge.fromType),
        agentCell(edge.to, edge.toType),
        h('td', { class: 'mono', title: edge.methods.join(', '), text: methodList(edge.methods) }),
        h('td', { class: 'number', text: formatRate(edge.ratePerSecond) }),
        errorCell(edge, demo),
        ...latencyCells(edge),
        lastErrorCell(edge),
      ]),
    ),
    topology.agentEdges.length > MAX_EDGE_ROWS
      ? h(
          'tr',
          {},
          h('td', {
            colspan: COLUMNS,
            class: 'hint',
            text: `and ${topology.agentEdges.length - MAX_EDGE_ROWS} more`,
          }),
        )
      : '',
  );
  refreshRelativeTimes();
}

/**
 * The window of a topology in words: "60 s", "15 min".
 * @param {TopologyView} topology
 * @returns {string}
 */
export function windowText(topology) {
  return topology.rangeMinutes ? `${topology.rangeMinutes} min` : `${Math.round(topology.windowSeconds)} s`;
}
