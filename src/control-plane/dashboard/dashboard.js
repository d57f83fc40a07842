/* global console, document, window, EventSource, Node */
// The agent-mesh dashboard: renders what the control plane streams at /api/stream (server-sent events carrying
// the same JSON as /api/info, /api/agents, /api/topology and /api/activity). No framework and no build step.
// Everything from the server is put in the page as text (textContent, attributes), never parsed as HTML.

const SVG = 'http://www.w3.org/2000/svg';
const MAX_EDGE_ROWS = 50;

const model = { info: undefined, agents: undefined, topology: undefined, activity: [], filter: 'all' };
// The server's clock minus ours, so that "in 5 min" is right even when the two disagree.
let clockOffset = 0;
const now = () => Date.now() + clockOffset;

// ---------------------------------------------------------------------------------------------------------------
// Small DOM helpers

function h(tag, props, ...children) {
  const node = document.createElement(tag);
  applyProps(node, props);
  append(node, children);
  return node;
}

function s(tag, props, ...children) {
  const node = document.createElementNS(SVG, tag);
  applyProps(node, props);
  append(node, children);
  return node;
}

function applyProps(node, props) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.setAttribute('class', value);
    else if (key === 'dataset') {
      for (const [name, data] of Object.entries(value)) if (data !== undefined) node.dataset[name] = data;
    } else if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

function formatRate(perSecond) {
  if (perSecond === 0) return '0';
  if (perSecond < 0.01) return '<0.01';
  if (perSecond < 10) return perSecond.toFixed(2);
  if (perSecond < 100) return perSecond.toFixed(1);
  return Math.round(perSecond).toLocaleString('en');
}

function formatMs(ms) {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

function formatPercent(ratio) {
  if (ratio === 0) return '0%';
  if (ratio < 0.001) return '<0.1%';
  if (ratio < 0.1) return `${(ratio * 100).toFixed(1)}%`;
  return `${Math.round(ratio * 100)}%`;
}

function ratioClass(ratio) {
  if (ratio >= 0.05) return 'bad';
  if (ratio > 0) return 'warn';
  return 'ok';
}

function formatSpan(ms) {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} d`;
}

function formatRelative(time) {
  const delta = time - now();
  return delta >= 0 ? `in ${formatSpan(delta)}` : `${formatSpan(delta)} ago`;
}

function formatClock(time) {
  const date = new Date(time);
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** A time that keeps saying how far away it is (the ticker refreshes it). */
function relativeTime(time, options = {}) {
  return h('span', {
    class: 'relative',
    dataset: {
      time: String(time),
      warnWithinMs: options.warnWithinMs ? String(options.warnWithinMs) : undefined,
    },
    title: new Date(time).toISOString(),
    text: formatRelative(time),
  });
}

function refreshRelativeTimes() {
  for (const node of document.querySelectorAll('.relative')) {
    const time = Number(node.dataset.time);
    node.textContent = formatRelative(time);
    const warnWithin = Number(node.dataset.warnWithinMs || 0);
    if (warnWithin) {
      node.classList.toggle('expired', time <= now());
      node.classList.toggle('soon', time > now() && time - now() < warnWithin);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Header and summary

function renderInfo() {
  const info = model.info;
  if (!info) return;
  const box = document.getElementById('control-plane');
  box.replaceChildren(
    h('span', {}, 'control plane ', h('b', { class: 'mono', text: info.spiffeId })),
    h('span', {}, 'gRPC ', h('b', { class: 'mono', text: info.address })),
    h('span', {}, 'store ', h('b', { text: info.store })),
    h(
      'span',
      {},
      'certificate expires ',
      h('b', {}, relativeTime(info.certificateExpiresAt, { warnWithinMs: 3_600_000 })),
    ),
    h('span', {}, h('b', { text: info.healthCheckLeader ? 'health-check leader' : 'follower' })),
  );
  refreshRelativeTimes();
}

function renderSummary() {
  const agents = model.agents;
  const edges = model.topology?.typeEdges ?? [];
  const calls = edges.reduce((sum, edge) => sum + edge.calls, 0);
  const errors = edges.reduce((sum, edge) => sum + edge.errors, 0);
  const rate = edges.reduce((sum, edge) => sum + edge.ratePerSecond, 0);
  const tile = (label, value, className) =>
    h('div', { class: `tile ${className ?? ''}`, dataset: { tile: label } }, [
      h('div', { class: 'label', text: label }),
      h('div', { class: 'value', text: value }),
    ]);
  const counts = agents?.counts ?? { healthy: 0, unhealthy: 0, draining: 0 };
  const ratio = calls === 0 ? 0 : errors / calls;
  document
    .getElementById('summary')
    .replaceChildren(
      tile('Agents', agents?.total ?? 0),
      tile('Types', agents?.types.length ?? 0),
      tile('Healthy', counts.healthy, counts.healthy ? 'healthy' : 'zero'),
      tile('Unhealthy', counts.unhealthy, counts.unhealthy ? 'unhealthy' : 'zero'),
      tile('Draining', counts.draining, counts.draining ? 'draining' : 'zero'),
      tile('Calls/s', formatRate(rate)),
      tile('Error ratio', formatPercent(ratio), ratio >= 0.05 ? 'unhealthy' : ratio > 0 ? 'draining' : ''),
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Agents

function loadCell(agent) {
  if (agent.maxConcurrency > 0) {
    const share = Math.min(1, agent.inFlight / agent.maxConcurrency);
    const bar = h('div', { class: `bar ${share >= 1 ? 'full' : share >= 0.75 ? 'high' : ''}` }, h('span'));
    bar.firstChild.style.width = `${Math.round(share * 100)}%`;
    return h(
      'div',
      { class: 'load', title: `${agent.inFlight} calls in flight of at most ${agent.maxConcurrency}` },
      [bar, h('span', { class: 'number', text: `${agent.inFlight} / ${agent.maxConcurrency}` })],
    );
  }
  return h('span', {
    class: 'number',
    title: 'calls in flight (no concurrency limit)',
    text: agent.inFlight,
  });
}

function expiryCell(agent) {
  if (agent.certificateExpiresAt !== undefined) {
    return h(
      'td',
      {},
      relativeTime(agent.certificateExpiresAt, { warnWithinMs: 3_600_000 }),
      h('span', { class: 'sub', text: 'certificate' }),
    );
  }
  return h(
    'td',
    {
      title:
        "This replica has not seen the agent's certificate yet (the registry does not record it): " +
        'the lease expiry is shown instead; a heartbeat renews it.',
    },
    relativeTime(agent.leaseExpiresAt),
    h('span', { class: 'note-mark', text: ' †' }),
    h('span', { class: 'sub', text: 'lease' }),
  );
}

function agentRow(agent) {
  const labels = Object.entries(agent.labels ?? {}).map(([key, value]) => `${key}=${value}`);
  return h('tr', { dataset: { agentId: agent.id, health: agent.health } }, [
    h('td', {}, [
      h('span', { class: 'mono', text: agent.id }),
      h('span', { class: 'sub', text: agent.endpoint, title: agent.description || undefined }),
    ]),
    h('td', {}, h('span', { class: `badge ${agent.health}`, text: agent.health })),
    h(
      'td',
      {},
      loadCell(agent),
      agent.queueDepth ? h('span', { class: 'sub', text: `${agent.queueDepth} queued` }) : null,
    ),
    h('td', {}, [
      h('span', { class: 'mono', text: agent.spiffeId }),
      labels.length ? h('span', { class: 'sub', text: labels.join(', ') }) : null,
    ]),
    expiryCell(agent),
    h('td', {}, relativeTime(agent.registeredAt)),
  ]);
}

function renderAgents() {
  const view = model.agents;
  const container = document.getElementById('agent-types');
  if (!view) return;
  document.getElementById('agents-hint').textContent =
    `${plural(view.total, 'agent')} in ${plural(view.types.length, 'type')}`;
  if (view.types.length === 0) {
    container.replaceChildren(h('p', { class: 'empty', text: 'No agents registered yet.' }));
    return;
  }
  let leaseShown = false;
  const groups = view.types.map((group) => {
    const chips = ['healthy', 'unhealthy', 'draining']
      .filter((health) => group.counts[health] > 0)
      .map((health) => h('span', { class: `badge ${health}`, text: `${group.counts[health]} ${health}` }));
    const rows = group.agents.map((agent) => {
      if (agent.certificateExpiresAt === undefined) leaseShown = true;
      return agentRow(agent);
    });
    return h('section', { class: 'type-group', dataset: { type: group.type } }, [
      h('div', { class: 'type-header' }, [
        h('h3', { text: group.type }),
        h('span', { class: 'count', text: plural(group.agents.length, 'agent') }),
        h('div', { class: 'chips' }, chips),
      ]),
      h('table', {}, [
        h(
          'thead',
          {},
          h('tr', {}, [
            h('th', { text: 'Agent' }),
            h('th', { text: 'Health' }),
            h('th', { text: 'In flight' }),
            h('th', { text: 'Identity' }),
            h('th', { text: 'Expires' }),
            h('th', { text: 'Registered' }),
          ]),
        ),
        h('tbody', {}, rows),
      ]),
    ]);
  });
  container.replaceChildren(
    ...groups,
    leaseShown
      ? h('p', {
          class: 'footnote',
          text:
            "† Lease expiry: the registry does not record certificates, and this replica has not seen the agent's " +
            'certificate on a registration, heartbeat or renewal yet.',
        })
      : '',
  );
  refreshRelativeTimes();
}

// ---------------------------------------------------------------------------------------------------------------
// Topology

const NODE_W = 164;
const NODE_H = 54;
const COL_GAP = 204;
const ROW_GAP = 30;
const PAD = 28;

/** Columns by longest path from the callers (edges that close a cycle are drawn as arcs back). */
function layout(types, edges) {
  const names = types.map((t) => t.type);
  const forward = edges.filter((edge) => edge.from !== edge.to);
  const outgoing = new Map(names.map((name) => [name, []]));
  const incoming = new Map(names.map((name) => [name, 0]));
  for (const edge of forward) {
    outgoing.get(edge.from)?.push(edge.to);
    incoming.set(edge.to, (incoming.get(edge.to) ?? 0) + 1);
  }
  const order = [...names].sort((a, b) => incoming.get(a) - incoming.get(b) || a.localeCompare(b));
  const state = new Map();
  const back = new Set();
  const visit = (name) => {
    state.set(name, 'open');
    for (const next of outgoing.get(name) ?? []) {
      if (state.get(next) === 'open') back.add(`${name}\n${next}`);
      else if (!state.has(next)) visit(next);
    }
    state.set(name, 'done');
  };
  for (const name of order) if (!state.has(name)) visit(name);
  const rank = new Map(names.map((name) => [name, 0]));
  for (let round = 0; round < names.length; round += 1) {
    let changed = false;
    for (const edge of forward) {
      if (back.has(`${edge.from}\n${edge.to}`)) continue;
      const candidate = rank.get(edge.from) + 1;
      if (candidate > rank.get(edge.to)) {
        rank.set(edge.to, candidate);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const columns = [];
  for (const name of names) (columns[rank.get(name)] ??= []).push(name);
  // Order each column by where its callers sit, to keep lines from crossing.
  const row = new Map();
  columns.forEach((column, index) => {
    if (index > 0) {
      const weight = (name) => {
        const callers = forward
          .filter((edge) => edge.to === name && row.has(edge.from))
          .map((e) => row.get(e.from));
        return callers.length ? callers.reduce((a, b) => a + b, 0) / callers.length : Infinity;
      };
      column.sort((a, b) => weight(a) - weight(b) || a.localeCompare(b));
    } else {
      column.sort((a, b) => a.localeCompare(b));
    }
    column.forEach((name, position) => row.set(name, position));
  });
  // Edges that skip a column pass above the columns in between, one lane each; edges back (closing a cycle) pass
  // below; a type calling itself loops above its node. Room is made for them.
  const long = forward.filter(
    (edge) => !back.has(`${edge.from}\n${edge.to}`) && rank.get(edge.to) - rank.get(edge.from) > 1,
  );
  const lanes = new Map(long.map((edge, lane) => [`${edge.from}\n${edge.to}`, lane]));
  const topSpace = Math.max(
    edges.some((edge) => edge.from === edge.to) ? 44 : 12,
    long.length ? 24 + long.length * 26 : 0,
  );
  const bottomSpace = back.size ? 72 : 12;
  const tallest = Math.max(1, ...columns.map((column) => column.length));
  const body = tallest * NODE_H + (tallest - 1) * ROW_GAP;
  const positions = new Map();
  columns.forEach((column, index) => {
    const columnHeight = column.length * NODE_H + (column.length - 1) * ROW_GAP;
    const top = PAD + topSpace + (body - columnHeight) / 2;
    column.forEach((name, position) => {
      positions.set(name, { x: PAD + index * (NODE_W + COL_GAP), y: top + position * (NODE_H + ROW_GAP) });
    });
  });
  const columnTops = columns.map((column) => positions.get(column[0]).y);
  const width = PAD * 2 + columns.length * NODE_W + (columns.length - 1) * COL_GAP;
  const height = PAD * 2 + topSpace + body + bottomSpace;
  return { positions, rank, back, lanes, columnTops, width: Math.max(width, 320), height };
}

function cubicMidpoint(p0, p1, p2, p3) {
  return {
    x: (p0.x + 3 * p1.x + 3 * p2.x + p3.x) / 8,
    y: (p0.y + 3 * p1.y + 3 * p2.y + p3.y) / 8,
  };
}

function edgeGeometry(edge, graph) {
  const { positions, rank, back, lanes, columnTops } = graph;
  const a = positions.get(edge.from);
  const b = positions.get(edge.to);
  if (edge.from === edge.to) {
    const p0 = { x: a.x + NODE_W - 30, y: a.y };
    const p1 = { x: a.x + NODE_W - 30, y: a.y - 40 };
    const p2 = { x: a.x + NODE_W + 40, y: a.y + NODE_H / 2 };
    const p3 = { x: a.x + NODE_W, y: a.y + NODE_H / 2 };
    return {
      d: `M${p0.x},${p0.y} C${p1.x},${p1.y} ${p2.x},${p2.y} ${p3.x},${p3.y}`,
      label: { x: a.x + NODE_W + 8, y: a.y - 18 },
    };
  }
  if (back.has(`${edge.from}\n${edge.to}`)) {
    const p0 = { x: a.x + NODE_W / 2 + 10, y: a.y + NODE_H };
    const p3 = { x: b.x + NODE_W / 2 - 10, y: b.y + NODE_H };
    const dip = Math.max(p0.y, p3.y) + 46 + Math.abs(p0.x - p3.x) * 0.08;
    const p1 = { x: p0.x, y: dip };
    const p2 = { x: p3.x, y: dip };
    return {
      d: `M${p0.x},${p0.y} C${p1.x},${p1.y} ${p2.x},${p2.y} ${p3.x},${p3.y}`,
      label: cubicMidpoint(p0, p1, p2, p3),
    };
  }
  const p0 = { x: a.x + NODE_W, y: a.y + NODE_H / 2 };
  const p3 = { x: b.x - 4, y: b.y + NODE_H / 2 };
  const lane = lanes.get(`${edge.from}\n${edge.to}`);
  if (lane !== undefined) {
    const between = columnTops.slice(rank.get(edge.from) + 1, rank.get(edge.to));
    const peak = { x: (p0.x + p3.x) / 2, y: Math.min(...between) - 22 - lane * 26 };
    return {
      d:
        `M${p0.x},${p0.y} C${p0.x + 70},${p0.y} ${peak.x - 140},${peak.y} ${peak.x},${peak.y} ` +
        `S${p3.x - 70},${p3.y} ${p3.x},${p3.y}`,
      label: peak,
    };
  }
  const bend = Math.max(40, (p3.x - p0.x) / 2);
  const p1 = { x: p0.x + bend, y: p0.y };
  const p2 = { x: p3.x - bend, y: p3.y };
  return {
    d: `M${p0.x},${p0.y} C${p1.x},${p1.y} ${p2.x},${p2.y} ${p3.x},${p3.y}`,
    label: cubicMidpoint(p0, p1, p2, p3),
  };
}

function edgeTooltip(edge) {
  const lines = [
    `${edge.from} → ${edge.to}`,
    `${formatRate(edge.ratePerSecond)} calls/s (${edge.calls} in the window)`,
    `errors ${formatPercent(edge.errorRatio)} (${edge.errors})`,
    `latency mean ${formatMs(edge.latencyMsMean)}, max ${formatMs(edge.latencyMsMax)}`,
    `methods: ${edge.methods.join(', ')}`,
  ];
  if (edge.lastError) lines.push(`last error: ${edge.lastError}`);
  return lines.join('\n');
}

function healthClass(node) {
  if (node.counts.unhealthy > 0) return 'unhealthy';
  if (node.counts.draining > 0) return 'draining';
  if (node.agents === 0) return 'gone';
  return 'healthy';
}

function nodeMeta(node) {
  if (node.agents === 0) return 'no agent registered';
  const parts = [plural(node.agents, 'agent')];
  if (node.counts.unhealthy) parts.push(`${node.counts.unhealthy} unhealthy`);
  if (node.counts.draining) parts.push(`${node.counts.draining} draining`);
  return parts.join(' · ');
}

/** What the topology looks like once formatted: a refresh that would draw the same picture is skipped. */
function topologySignature(topology) {
  const edge = (e) => [
    e.from,
    e.to,
    e.methods.join(),
    formatRate(e.ratePerSecond),
    formatPercent(e.errorRatio),
    formatMs(e.latencyMsMean),
    formatMs(e.latencyMsMax),
    e.lastError ?? '',
    e.lastErrorAt ?? 0,
  ];
  return JSON.stringify([
    topology.windowSeconds,
    topology.types,
    topology.typeEdges.map(edge),
    topology.agentEdges.map(edge),
  ]);
}

let drawnTopology = '';

function renderTopology() {
  const topology = model.topology;
  if (!topology) return;
  const signature = topologySignature(topology);
  if (signature === drawnTopology) return;
  drawnTopology = signature;
  document.getElementById('topology-window').textContent =
    `type to type, calls reported in the last ${Math.round(topology.windowSeconds)} s`;
  const graph = document.getElementById('topology-graph');
  if (topology.types.length === 0) {
    graph.replaceChildren(h('p', { class: 'empty', text: 'No agents or calls yet.' }));
  } else {
    const graphLayout = layout(topology.types, topology.typeEdges);
    const { positions, width, height } = graphLayout;
    const maxRate = Math.max(0, ...topology.typeEdges.map((edge) => edge.ratePerSecond));
    // One clip for every node (clip coordinates are each node's own): the health stripe follows the rounded corners.
    const clip = s('clipPath', { id: 'node-clip' }, s('rect', { width: NODE_W, height: NODE_H, rx: 9 }));
    const markers = ['ok', 'warn', 'bad'].map((kind) =>
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
    const edges = [];
    const labels = [];
    for (const edge of topology.typeEdges) {
      if (!positions.has(edge.from) || !positions.has(edge.to)) continue;
      const geometry = edgeGeometry(edge, graphLayout);
      const kind = ratioClass(edge.errorRatio);
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
      const text = [`${formatRate(edge.ratePerSecond)}/s`, formatMs(edge.latencyMsMean)];
      if (edge.errors > 0) text.push(`${formatPercent(edge.errorRatio)} err`);
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
    const nodes = topology.types.map((node) => {
      const { x, y } = positions.get(node.type);
      const health = healthClass(node);
      return s(
        'g',
        { class: `node ${health}`, transform: `translate(${x},${y})`, dataset: { type: node.type } },
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
      [s('defs', {}, clip, markers), ...edges, ...nodes, ...labels],
    );
    svg.style.maxWidth = '100%';
    svg.style.height = 'auto';
    graph.replaceChildren(svg);
    // Now that the text is laid out, fit each label's pill to it (the estimate above serves a hidden page).
    for (const label of svg.querySelectorAll('.edge-label')) {
      const text = label.querySelector('text');
      const measured = text.getComputedTextLength();
      if (!measured) continue;
      const labelWidth = Math.ceil(measured) + 16;
      label.querySelector('rect').setAttribute('width', String(labelWidth));
      text.setAttribute('x', String(labelWidth / 2));
      label.setAttribute(
        'transform',
        `translate(${Number(label.dataset.x) - labelWidth / 2},${Number(label.dataset.y) - 10})`,
      );
    }
  }
  renderEdgeTable(topology);
}

function renderEdgeTable(topology) {
  const body = document.getElementById('edges-body');
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

// ---------------------------------------------------------------------------------------------------------------
// Activity

const KIND_LABELS = {
  joined: 'joined',
  left: 'left',
  expired: 'expired',
  health: 'health',
  draining: 'draining',
  'call-failures': 'calls',
  certificate: 'certificate',
  policies: 'policies',
  'control-plane': 'control plane',
};

function renderActivity() {
  const list = document.getElementById('activity');
  const entries = model.activity.filter((entry) => model.filter === 'all' || entry.severity !== 'info');
  if (entries.length === 0) {
    list.replaceChildren(
      h('li', {
        class: 'empty',
        text: model.filter === 'all' ? 'Nothing has happened yet.' : 'No problems recorded.',
      }),
    );
    return;
  }
  list.replaceChildren(
    ...entries.map((entry) =>
      h('li', { class: entry.severity, dataset: { kind: entry.kind, agentId: entry.agentId } }, [
        h('time', {
          datetime: new Date(entry.at).toISOString(),
          title: new Date(entry.at).toISOString(),
          text: formatClock(entry.at),
        }),
        h('div', {}, [
          h('span', { class: 'kind', text: KIND_LABELS[entry.kind] ?? entry.kind }),
          h('span', { class: 'message', text: entry.message }),
          entry.count > 1
            ? h('span', {
                class: 'count',
                title: `${entry.count} times since ${formatClock(entry.firstAt)}`,
                text: `×${entry.count}`,
              })
            : null,
        ]),
      ]),
    ),
  );
}

for (const button of document.querySelectorAll('.filter button')) {
  button.addEventListener('click', () => {
    model.filter = button.dataset.filter;
    for (const other of document.querySelectorAll('.filter button')) {
      other.setAttribute('aria-pressed', String(other === button));
    }
    renderActivity();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Live updates

function setLive(state, text) {
  const live = document.getElementById('live');
  live.dataset.state = state;
  document.getElementById('live-text').textContent = text;
}

function connect() {
  const source = new EventSource('/api/stream');
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
  on('info', (info) => {
    model.info = info;
    renderInfo();
  });
  on('agents', (agents) => {
    clockOffset = agents.generatedAt - Date.now();
    model.agents = agents;
    renderAgents();
    renderSummary();
  });
  on('topology', (topology) => {
    model.topology = topology;
    renderTopology();
    renderSummary();
  });
  on('activity', (entries) => {
    model.activity = entries;
    renderActivity();
  });
}

renderSummary();
connect();
window.setInterval(refreshRelativeTimes, 1000);
