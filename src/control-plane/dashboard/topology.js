// @ts-check
// The "who calls whom" panel: a graph of agent types with an edge per calling pair (its width the call rate, its
// colour the error ratio), the subscriptions as dashed event edges from topic patterns to the subscribing types,
// and below it the table of agent-to-agent edges.
import { byId, h, s } from './dom.js';
import { isDemoEdge } from './demo.js';
import { renderEdgeTable, windowText } from './edge-table.js';
import { formatMs, formatPercent, formatRate, plural, ratioClass } from './format.js';
import { NODE_H, NODE_W, edgeGeometry, layout } from './topology-layout.js';

/** @typedef {import('./api-types.js').CallEdge} CallEdge */
/** @typedef {import('./api-types.js').EventEdge} EventEdge */

/** The prefix that keeps a topic pattern's node apart from the agent types in the layout. */
const TOPIC = 'topic:';
/** @typedef {import('./api-types.js').TopologyType} TopologyType */
/** @typedef {import('./api-types.js').TopologyView} TopologyView */

/**
 * A renderer of the topology panel. The topology arrives every few seconds with rates that change in digits the
 * page does not show: a topology that would draw the same picture as the last one is skipped.
 * @returns {(topology: TopologyView, demo: Set<string>) => void}
 */
export function topologyRenderer() {
  let drawn = '';
  return (topology, demo) => {
    const signature = topologySignature(topology) + [...demo].join();
    if (signature === drawn) return;
    drawn = signature;
    byId('topology-window').textContent =
      `type to type, calls reported in the last ${windowText(topology)}; dashed: event subscriptions`;
    const graph = byId('topology-graph');
    if (topology.types.length === 0) {
      graph.replaceChildren(h('p', { class: 'empty', text: 'No agents or calls yet.' }));
    } else {
      const svg = drawGraph(topology, demo);
      graph.replaceChildren(svg);
      fitLabels(svg);
    }
    renderEdgeTable(topology, demo);
  };
}

/**
 * The graph of types as an SVG element: nodes, edges with arrows, and a label on each edge.
 * @param {TopologyView} topology
 * @param {Set<string>} demo the demo agents that fail on purpose: their errors colour no edge
 * @returns {SVGSVGElement}
 */
function drawGraph(topology, demo) {
  /** Errors of each type edge that come from demo agents, by `from\nto`. @type {Map<string, number>} */
  const expected = new Map();
  for (const edge of topology.agentEdges) {
    if (edge.errors === 0 || !isDemoEdge(edge, demo)) continue;
    const key = `${edge.fromType}\n${edge.toType}`;
    expected.set(key, (expected.get(key) ?? 0) + edge.errors);
  }
  const eventEdges = topology.eventEdges ?? [];
  const topics = [...new Set(eventEdges.map((edge) => edge.topic))];
  const eventLinks = eventEdges.map((edge) => ({ from: TOPIC + edge.topic, to: edge.toType, edge }));
  const graphLayout = layout(
    [
      ...topology.types,
      ...topics.map((topic) => ({
        type: TOPIC + topic,
        agents: 0,
        counts: { healthy: 0, unhealthy: 0, draining: 0 },
      })),
    ],
    [...topology.typeEdges, ...eventLinks],
  );
  const { positions, width, height } = graphLayout;
  const maxRate = Math.max(0, ...topology.typeEdges.map((edge) => edge.ratePerSecond));
  // One clip for every node (clip coordinates are each node's own): the health stripe follows the rounded corners.
  const clip = s('clipPath', { id: 'node-clip' }, s('rect', { width: NODE_W, height: NODE_H, rx: 9 }));
  const markers = ['ok', 'warn', 'bad', 'event'].map((kind) =>
    s(
      'marker',
      {
        id: `arrow-${kind}`,
        viewBox: '0 0 10 10',
        refX: 9,
        refY: 5,
        markerWidth: 10,
        markerHeight: 10,
        markerUnits: 'userSpaceOnUse',
        orient: 'auto',
      },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrow-${kind}` }),
    ),
  );
  /** @type {SVGGElement[]} */
  const edges = [];
  /** @type {SVGGElement[]} */
  const labels = [];
  for (const edge of topology.typeEdges) {
    if (!positions.has(edge.from) || !positions.has(edge.to)) continue;
    const geometry = edgeGeometry(edge, graphLayout);
    const demoErrors = Math.min(edge.errors, expected.get(`${edge.from}\n${edge.to}`) ?? 0);
    // Coloured by the errors that are not expected demo failures.
    const kind = ratioClass(edge.calls === 0 ? 0 : (edge.errors - demoErrors) / edge.calls);
    const widthPx = 1.5 + (maxRate > 0 ? 4.5 * Math.sqrt(edge.ratePerSecond / maxRate) : 0);
    edges.push(
      s('g', { class: `edge ${kind}`, dataset: { from: edge.from, to: edge.to } }, [
        s('title', { text: edgeTooltip(edge) }),
        s('path', {
          d: geometry.d,
          'stroke-width': widthPx.toFixed(1),
          'marker-end': `url(#arrow-${kind})`,
        }),
      ]),
    );
    const text = [`${formatRate(edge.ratePerSecond)}/s`, `p95 ${formatMs(edge.latencyMsP95)}`];
    if (edge.errors > 0)
      text.push(`${formatPercent(edge.errorRatio)} err${demoErrors === edge.errors ? ' (demo)' : ''}`);
    const content = text.join(' · ');
    const labelWidth = content.length * 6.3 + 14;
    labels.push(
      s(
        'g',
        {
          class: `edge-label ${kind}`,
          transform: `translate(${geometry.label.x - labelWidth / 2},${geometry.label.y - 10})`,
          dataset: { x: geometry.label.x, y: geometry.label.y },
        },
        [
          s('title', { text: edgeTooltip(edge) }),
          s('rect', { width: labelWidth.toFixed(0), height: 20, rx: 10 }),
          s('text', { x: labelWidth / 2, y: 14, 'text-anchor': 'middle', text: content }),
        ],
      ),
    );
  }
  for (const link of eventLinks) {
    if (!positions.has(link.from) || !positions.has(link.to)) continue;
    const geometry = edgeGeometry(link, graphLayout);
    edges.push(
      s('g', { class: 'edge event', dataset: { topic: link.edge.topic, to: link.edge.toType } }, [
        s('title', { text: eventTooltip(link.edge) }),
        s('path', { d: geometry.d, 'stroke-width': 1.5, 'marker-end': 'url(#arrow-event)' }),
      ]),
    );
  }
  const topicNodes = topics.map((topic) => {
    const position = positions.get(TOPIC + topic);
    const subscribers = eventEdges
      .filter((edge) => edge.topic === topic)
      .reduce((sum, edge) => sum + edge.subscribers.length, 0);
    const meta = `topic · ${plural(subscribers, 'subscriber')}`;
    return s(
      'g',
      {
        class: 'node topic',
        transform: `translate(${position?.x},${position?.y})`,
        dataset: { topic },
      },
      [
        s('title', { text: `${topic}: ${meta}` }),
        s('rect', { width: NODE_W, height: NODE_H, rx: 27 }),
        s('text', { class: 'name', x: 18, y: 23, text: topic }),
        s('text', { class: 'meta', x: 18, y: 41, text: meta }),
      ],
    );
  });
  const nodes = topology.types.map((node) => {
    const position = positions.get(node.type);
    const health = healthClass(node);
    return s(
      'g',
      {
        class: `node ${health}`,
        transform: `translate(${position?.x},${position?.y})`,
        dataset: { type: node.type },
      },
      [
        s('title', { text: `${node.type}: ${nodeMeta(node)}` }),
        s('rect', { width: NODE_W, height: NODE_H, rx: 9 }),
        s('rect', { class: 'accent', width: 5, height: NODE_H, 'clip-path': 'url(#node-clip)' }),
        s('text', { class: 'name', x: 16, y: 23, text: node.type }),
        s('text', { class: 'meta', x: 16, y: 41, text: nodeMeta(node) }),
      ],
    );
  });
  const svg = s(
    'svg',
    {
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-label': 'Calls between agent types',
    },
    [s('defs', {}, clip, markers), ...edges, ...nodes, ...topicNodes, ...labels],
  );
  svg.style.maxWidth = '100%';
  svg.style.height = 'auto';
  return svg;
}

/**
 * Now that the text is laid out, fits each label's pill to it (the estimate made before serves a hidden page).
 * @param {SVGSVGElement} svg
 */
function fitLabels(svg) {
  for (const label of /** @type {NodeListOf<SVGGElement>} */ (svg.querySelectorAll('.edge-label'))) {
    const text = label.querySelector('text');
    const pill = label.querySelector('rect');
    const measured = text?.getComputedTextLength();
    if (!text || !pill || !measured) continue;
    const labelWidth = Math.ceil(measured) + 16;
    pill.setAttribute('width', String(labelWidth));
    text.setAttribute('x', String(labelWidth / 2));
    label.setAttribute(
      'transform',
      `translate(${Number(label.dataset.x) - labelWidth / 2},${Number(label.dataset.y) - 10})`,
    );
  }
}

/**
 * What the topology looks like once formatted: two topologies with the same signature draw the same picture.
 * @param {TopologyView} topology
 * @returns {string}
 */
function topologySignature(topology) {
  /** @param {CallEdge} e */
  const edge = (e) => [
    e.from,
    e.to,
    e.methods.join(),
    formatRate(e.ratePerSecond),
    formatPercent(e.errorRatio),
    formatMs(e.latencyMsP50),
    formatMs(e.latencyMsP95),
    formatMs(e.latencyMsP99),
    e.lastError ?? '',
    e.lastErrorAt ?? 0,
  ];
  return JSON.stringify([
    topology.windowSeconds,
    topology.types,
    topology.typeEdges.map(edge),
    topology.agentEdges.map(edge),
    topology.eventEdges ?? [],
  ]);
}

/**
 * An edge's tooltip: rate, errors, latency, methods and the last error.
 * @param {CallEdge} edge
 * @returns {string}
 */
function edgeTooltip(edge) {
  const lines = [
    `${edge.from} → ${edge.to}`,
    `${formatRate(edge.ratePerSecond)} calls/s (${edge.calls} in the window)`,
    `errors ${formatPercent(edge.errorRatio)} (${edge.errors})`,
    `latency p50 ${formatMs(edge.latencyMsP50)}, p95 ${formatMs(edge.latencyMsP95)}, p99 ${formatMs(edge.latencyMsP99)}, max ${formatMs(edge.latencyMsMax)}`,
    `methods: ${edge.methods.join(', ')}`,
  ];
  if (edge.lastError) lines.push(`last error: ${edge.lastError}`);
  return lines.join('\n');
}

/**
 * An event edge's tooltip: who subscribes, in which groups, and why there is no rate.
 * @param {EventEdge} edge
 * @returns {string}
 */
function eventTooltip(edge) {
  return [
    `events on ${edge.topic} → ${edge.toType}`,
    `subscribers: ${edge.subscribers.join(', ')}`,
    edge.groups.length ? `queue groups: ${edge.groups.join(', ')}` : 'no queue group: each gets every event',
    'from the subscriptions: events go from publisher to subscriber directly, unseen by the control plane',
  ].join('\n');
}

/**
 * A node's colour: its worst member's health, or `gone` when it has no agent left.
 * @param {TopologyType} node
 * @returns {string}
 */
function healthClass(node) {
  if (node.counts.unhealthy > 0) return 'unhealthy';
  if (node.counts.draining > 0) return 'draining';
  if (node.agents === 0) return 'gone';
  return 'healthy';
}

/**
 * The line under a node's name: how many agents, and how many of them are unhealthy or draining.
 * @param {TopologyType} node
 * @returns {string}
 */
function nodeMeta(node) {
  if (node.agents === 0) return 'no agent registered';
  const parts = [plural(node.agents, 'agent')];
  if (node.counts.unhealthy) parts.push(`${node.counts.unhealthy} unhealthy`);
  if (node.counts.draining) parts.push(`${node.counts.draining} draining`);
  return parts.join(' · ');
}
