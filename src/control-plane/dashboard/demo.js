// @ts-check
// Demo traffic that fails on purpose: the example planner of `npm start` sends a blank page every tenth task, and
// the summarizer refuses it. The planner carries the label demo=fails-on-purpose; calls to or from an agent with
// that label are marked as expected demo failures wherever their errors show. Pure functions.

/** @typedef {import('./api-types.js').AgentsView} AgentsView */
/** @typedef {import('./api-types.js').CallEdge} CallEdge */

/** The label key and value that mark an agent whose calls fail on purpose. */
export const DEMO_LABEL = { key: 'demo', value: 'fails-on-purpose' };

/**
 * The ids of the agents labelled {@link DEMO_LABEL}.
 * @param {AgentsView | undefined} view
 * @returns {Set<string>}
 */
export function demoAgents(view) {
  const ids = new Set();
  for (const group of view?.types ?? []) {
    for (const agent of group.agents) {
      if (agent.labels?.[DEMO_LABEL.key] === DEMO_LABEL.value) ids.add(agent.id);
    }
  }
  return ids;
}

/**
 * Whether an edge's errors are expected: its caller or callee is a demo agent that fails on purpose.
 * @param {{ from: string, to: string }} edge
 * @param {Set<string>} demo
 * @returns {boolean}
 */
export function isDemoEdge(edge, demo) {
  return demo.has(edge.from) || demo.has(edge.to);
}

/** The note shown next to an expected error ratio. */
export const DEMO_NOTE = 'expected: demo';
/** Its tooltip. */
export const DEMO_TITLE =
  'The demo planner (label demo=fails-on-purpose) sends a blank page every tenth task, which the summarizer ' +
  'refuses with INVALID_ARGUMENT on purpose: these errors are expected.';
