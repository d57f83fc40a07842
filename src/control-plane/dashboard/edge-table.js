// @ts-check
// The table under the topology graph: agent-to-agent edges, busiest first, with their errors and latency.
import { byId, h } from './dom.js';
import { formatMs, formatPercent, formatRate, ratioClass } from './format.js';
import { refreshRelativeTimes, relativeTime } from './time.js';

/** @typedef {import('./api-types.js').TopologyView} TopologyView */

/** Rows shown at most; the rest is counted in a last row. */
const MAX_EDGE_ROWS = 50;

/**
 * Shows the topology's agent edges (the first {@link MAX_EDGE_ROWS}), or why there are none.
 * @param {TopologyView} topology
 */
export function renderEdgeTable(topology) {
  const body = byId('edges-body');
  const edges = topology.agentEdges.slice(0, MAX_EDGE_ROWS);
  if (edges.length === 0) {
    body.replaceChildren(
      h(
        'tr',
        {},
        h('td', {
          colspan: 8,
          class: 'empty',
          text: `No calls reported in the last ${Math.round(topology.windowSeconds)} s. Agents report their calls with their heartbeats.`,
        }),
      ),
    );
    return;
  }
  /** @param {string[]} list */
  const methods = (list) =>
    list.length <= 3 ? list.join(', ') : `${list.slice(0, 3).join(', ')} +${list.length - 3}`;
  body.replaceChildren(
    ...edges.map((edge) =>
      h('tr', { dataset: { from: edge.from, to: edge.to } }, [
        h(
          'td',
          {},
          h('span', { class: 'mono', text: edge.from }),
          h('span', { class: 'sub', text: edge.fromType }),
        ),
        h(
          'td',
          {},
          h('span', { class: 'mono', text: edge.to }),
          h('span', { class: 'sub', text: edge.toType }),
        ),
        h('td', { class: 'mono', title: edge.methods.join(', '), text: methods(edge.methods) }),
        h('td', { class: 'number', text: formatRate(edge.ratePerSecond) }),
        h('td', {
          class: `number ratio-${ratioClass(edge.errorRatio)}`,
          text: formatPercent(edge.errorRatio),
        }),
        h('td', { class: 'number', text: formatMs(edge.latencyMsMean) }),
        h('td', { class: 'number', text: formatMs(edge.latencyMsMax) }),
        h(
          'td',
          {},
          edge.lastError
            ? h('div', { class: 'error-text', title: edge.lastError, text: edge.lastError })
            : '—',
          edge.lastErrorAt ? h('span', { class: 'sub' }, relativeTime(edge.lastErrorAt)) : null,
        ),
      ]),
    ),
    topology.agentEdges.length > MAX_EDGE_ROWS
      ? h(
          'tr',
          {},
          h('td', {
            colspan: 8,
            class: 'hint',
            text: `and ${topology.agentEdges.length - MAX_EDGE_ROWS} more`,
          }),
        )
      : '',
  );
  refreshRelativeTimes();
}
