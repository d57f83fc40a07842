// @ts-check
/* global window */
// The page's views, by the URL's hash: `#/` the overview, `#/agents/<id>` an agent, `#/topics`, `#/policies`.

/** @typedef {{ view: 'overview' } | { view: 'agent', id: string } | { view: 'topics' } | { view: 'policies' }} Route */

/**
 * The route a hash names; anything unknown is the overview.
 * @param {string} hash e.g. `#/agents/planner-1`
 * @returns {Route}
 */
export function parseRoute(hash) {
  const path = hash.replace(/^#\/?/, '');
  const agent = /^agents\/(.+)$/.exec(path);
  if (agent) {
    let id = agent[1] ?? '';
    try {
      id = decodeURIComponent(id);
    } catch {
      // a malformed escape: take it as written
    }
    return { view: 'agent', id };
  }
  if (path === 'topics') return { view: 'topics' };
  if (path === 'policies') return { view: 'policies' };
  return { view: 'overview' };
}

/**
 * The hash of an agent's page.
 * @param {string} id
 * @returns {string}
 */
export function agentHref(id) {
  return `#/agents/${encodeURIComponent(id)}`;
}

/**
 * Calls `show` with the current route, and again on every change of the hash.
 * @param {(route: Route) => void} show
 */
export function followRoute(show) {
  window.addEventListener('hashchange', () => show(parseRoute(window.location.hash)));
  show(parseRoute(window.location.hash));
}
