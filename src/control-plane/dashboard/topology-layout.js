// @ts-check
// Where the topology graph puts its nodes and how its edges bend: columns by longest path from the callers, edges
// that close a cycle drawn as arcs below, edges that skip a column in lanes above. Pure geometry, no DOM.

/** An edge as the layout sees it: a call edge between types, or an event edge from a topic. @typedef {{ from: string, to: string }} Link */
/** @typedef {import('./api-types.js').TopologyType} TopologyType */
/** @typedef {{ x: number, y: number }} Point */
/**
 * A laid-out graph: each type's top-left corner, its column (`rank`), the edges that close a cycle (`back`), the
 * lane of each edge that skips columns, the top of each column and the size of the whole drawing. Edges are keyed
 * by {@link edgeKey}.
 * @typedef {{
 *   positions: Map<string, Point>,
 *   rank: Map<string, number>,
 *   back: Set<string>,
 *   lanes: Map<string, number>,
 *   columnTops: number[],
 *   width: number,
 *   height: number,
 * }} GraphLayout
 */
/**
 * An edge's path (an SVG `d`) and where its label goes.
 * @typedef {{ d: string, label: Point }} EdgeGeometry
 */

/** A node's width in the drawing. */
export const NODE_W = 164;
/** A node's height in the drawing. */
export const NODE_H = 54;
const COL_GAP = 204;
const ROW_GAP = 30;
const PAD = 28;

/**
 * The key of an edge in a {@link GraphLayout}'s sets and maps.
 * @param {{ from: string, to: string }} edge
 * @returns {string}
 */
function edgeKey(edge) {
  return `${edge.from}\n${edge.to}`;
}

/**
 * The value of `key`, which the layout made for every type.
 * @template K, V
 * @param {Map<K, V>} map
 * @param {K} key
 * @returns {V}
 */
function entry(map, key) {
  const value = map.get(key);
  if (value === undefined) throw new Error(`the layout has nothing for ${String(key)}`);
  return value;
}

/**
 * Lays out `types` and the calls between them. Edges to or from a type that is not in `types` are left out.
 * @param {TopologyType[]} types
 * @param {Link[]} edges
 * @returns {GraphLayout}
 */
export function layout(types, edges) {
  const names = types.map((t) => t.type);
  const known = new Set(names);
  const forward = edges.filter((edge) => edge.from !== edge.to && known.has(edge.from) && known.has(edge.to));
  /** @type {Map<string, string[]>} */
  const outgoing = new Map(names.map((name) => [name, []]));
  const incoming = new Map(names.map((name) => [name, 0]));
  for (const edge of forward) {
    entry(outgoing, edge.from).push(edge.to);
    incoming.set(edge.to, entry(incoming, edge.to) + 1);
  }
  const order = [...names].sort((a, b) => entry(incoming, a) - entry(incoming, b) || a.localeCompare(b));
  /** @type {Map<string, 'open' | 'done'>} */
  const state = new Map();
  /** @type {Set<string>} */
  const back = new Set();
  /** @param {string} name */
  const visit = (name) => {
    state.set(name, 'open');
    for (const next of entry(outgoing, name)) {
      if (state.get(next) === 'open') back.add(edgeKey({ from: name, to: next }));
      else if (!state.has(next)) visit(next);
    }
    state.set(name, 'done');
  };
  for (const name of order) if (!state.has(name)) visit(name);
  const rank = new Map(names.map((name) => [name, 0]));
  for (let round = 0; round < names.length; round += 1) {
    let changed = false;
    for (const edge of forward) {
      if (back.has(edgeKey(edge))) continue;
      const candidate = entry(rank, edge.from) + 1;
      if (candidate > entry(rank, edge.to)) {
        rank.set(edge.to, candidate);
        changed = true;
      }
    }
    if (!changed) break;
  }
  /** @type {string[][]} */
  const columns = [];
  for (const name of names) (columns[entry(rank, name)] ??= []).push(name);
  // Order each column by where its callers sit, to keep lines from crossing.
  /** @type {Map<string, number>} */
  const row = new Map();
  columns.forEach((column, index) => {
    if (index > 0) {
      /** @param {string} name */
      const weight = (name) => {
        const callers = forward
          .filter((edge) => edge.to === name && row.has(edge.from))
          .map((e) => entry(row, e.from));
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
    (edge) => !back.has(edgeKey(edge)) && entry(rank, edge.to) - entry(rank, edge.from) > 1,
  );
  const lanes = new Map(long.map((edge, lane) => [edgeKey(edge), lane]));
  const topSpace = Math.max(
    edges.some((edge) => edge.from === edge.to) ? 44 : 12,
    long.length ? 24 + long.length * 26 : 0,
  );
  const bottomSpace = back.size ? 72 : 12;
  const tallest = Math.max(1, ...columns.map((column) => column.length));
  const body = tallest * NODE_H + (tallest - 1) * ROW_GAP;
  /** @type {Map<string, Point>} */
  const positions = new Map();
  columns.forEach((column, index) => {
    const columnHeight = column.length * NODE_H + (column.length - 1) * ROW_GAP;
    const top = PAD + topSpace + (body - columnHeight) / 2;
    column.forEach((name, position) => {
      positions.set(name, { x: PAD + index * (NODE_W + COL_GAP), y: top + position * (NODE_H + ROW_GAP) });
    });
  });
  const columnTops = columns.map((column) => entry(positions, column[0]).y);
  const width = PAD * 2 + columns.length * NODE_W + (columns.length - 1) * COL_GAP;
  const height = PAD * 2 + topSpace + body + bottomSpace;
  return { positions, rank, back, lanes, columnTops, width: Math.max(width, 320), height };
}

/**
 * The path of one edge between two laid-out types: a loop for a type calling itself, an arc below for an edge
 * that closes a cycle, a lane above for one that skips columns, and an S-curve otherwise.
 * @param {Link} edge
 * @param {GraphLayout} graph
 * @returns {EdgeGeometry}
 */
export function edgeGeometry(edge, graph) {
  const { positions, rank, back, lanes, columnTops } = graph;
  const a = entry(positions, edge.from);
  const b = entry(positions, edge.to);
  if (edge.from === edge.to) {
    const p0 = { x: a.x + NODE_W - 30, y: a.y };
    const p1 = { x: a.x + NODE_W - 30, y: a.y - 40 };
    const p2 = { x: a.x + NODE_W + 40, y: a.y + NODE_H / 2 };
    const p3 = { x: a.x + NODE_W, y: a.y + NODE_H / 2 };
    return { d: cubic(p0, p1, p2, p3), label: { x: a.x + NODE_W + 8, y: a.y - 18 } };
  }
  if (back.has(edgeKey(edge))) {
    const p0 = { x: a.x + NODE_W / 2 + 10, y: a.y + NODE_H };
    const p3 = { x: b.x + NODE_W / 2 - 10, y: b.y + NODE_H };
    const dip = Math.max(p0.y, p3.y) + 46 + Math.abs(p0.x - p3.x) * 0.08;
    const p1 = { x: p0.x, y: dip };
    const p2 = { x: p3.x, y: dip };
    return { d: cubic(p0, p1, p2, p3), label: cubicMidpoint(p0, p1, p2, p3) };
  }
  const p0 = { x: a.x + NODE_W, y: a.y + NODE_H / 2 };
  const p3 = { x: b.x - 4, y: b.y + NODE_H / 2 };
  const lane = lanes.get(edgeKey(edge));
  if (lane !== undefined) {
    const between = columnTops.slice(entry(rank, edge.from) + 1, entry(rank, edge.to));
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
  return { d: cubic(p0, p1, p2, p3), label: cubicMidpoint(p0, p1, p2, p3) };
}

/**
 * An SVG path: one cubic Bézier curve from `p0` to `p3`.
 * @param {Point} p0
 * @param {Point} p1
 * @param {Point} p2
 * @param {Point} p3
 * @returns {string}
 */
function cubic(p0, p1, p2, p3) {
  return `M${p0.x},${p0.y} C${p1.x},${p1.y} ${p2.x},${p2.y} ${p3.x},${p3.y}`;
}

/**
 * The point halfway along a cubic Bézier curve.
 * @param {Point} p0
 * @param {Point} p1
 * @param {Point} p2
 * @param {Point} p3
 * @returns {Point}
 */
function cubicMidpoint(p0, p1, p2, p3) {
  return {
    x: (p0.x + 3 * p1.x + 3 * p2.x + p3.x) / 8,
    y: (p0.y + 3 * p1.y + 3 * p2.y + p3.y) / 8,
  };
}
