// @ts-check
/* global window */
// The agents panel: one table per agent type, a row per agent with its health, load, identity and expiry, each
// linking to the agent's page; filters by type, health and label.
import { DEMO_NOTE, DEMO_TITLE, demoAgents } from './demo.js';
import { byId, h } from './dom.js';
import { plural } from './format.js';
import { agentHref } from './router.js';
import { CERTIFICATE_WARNING_MS, refreshRelativeTimes, relativeTime } from './time.js';

/** @typedef {import('./api-types.js').AgentView} AgentView */
/** @typedef {import('./api-types.js').AgentsView} AgentsView */
/** @typedef {import('./api-types.js').Health} Health */

/** @type {readonly Health[]} */
const HEALTHS = ['healthy', 'unhealthy', 'draining'];

/** @typedef {{ type: string, health: string, label: string }} AgentFilter */

/** The latest view, drawn again when a filter changes. @type {AgentsView | undefined} */
let lastView;

/** Wires the filter form: a change draws the latest view again. */
export function wireAgentFilters() {
  const form = /** @type {HTMLFormElement} */ (byId('agent-filters'));
  form.addEventListener('input', () => lastView && renderAgents(lastView));
  form.addEventListener('submit', (event) => event.preventDefault());
}

/**
 * The filter as set in the form.
 * @returns {AgentFilter}
 */
function currentFilter() {
  const value = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (byId(id)).value.trim();
  return { type: value('filter-type'), health: value('filter-health'), label: value('filter-label') };
}

/**
 * Whether an agent passes the filter: its type, its health, and a label given as `key` (present) or `key=value`.
 * @param {AgentView} agent
 * @param {AgentFilter} filter
 * @returns {boolean}
 */
export function matchesFilter(agent, filter) {
  if (filter.type && agent.type !== filter.type) return false;
  if (filter.health && agent.health !== filter.health) return false;
  if (filter.label) {
    const [key = '', ...rest] = filter.label.split('=');
    const labels = agent.labels ?? {};
    if (!Object.hasOwn(labels, key.trim())) return false;
    if (rest.length > 0 && labels[key.trim()] !== rest.join('=').trim()) return false;
  }
  return true;
}

/**
 * Keeps the type filter's options in step with the types registered (and the one chosen, even if it left).
 * @param {AgentsView} view
 */
function updateTypeOptions(view) {
  const select = /** @type {HTMLSelectElement} */ (byId('filter-type'));
  const chosen = select.value;
  const types = view.types.map((group) => group.type);
  if (chosen && !types.includes(chosen)) types.push(chosen);
  const wanted = ['', ...types];
  const present = [...select.options].map((option) => option.value);
  if (wanted.join('\n') === present.join('\n')) return;
  select.replaceChildren(...wanted.map((type) => h('option', { value: type, text: type || 'all' })));
  select.value = chosen;
}

/**
 * Shows the agents grouped by type, as filtered; a footnote explains the rows that show a lease instead of a
 * certificate.
 * @param {AgentsView} view
 */
export function renderAgents(view) {
  lastView = view;
  const container = byId('agent-types');
  updateTypeOptions(view);
  const filter = currentFilter();
  const filtering = Boolean(filter.type || filter.health || filter.label);
  const shown = view.types.reduce(
    (sum, group) => sum + group.agents.filter((agent) => matchesFilter(agent, filter)).length,
    0,
  );
  byId('agents-hint').textContent =
    `${plural(view.total, 'agent')} in ${plural(view.types.length, 'type')}` +
    (filtering ? `, ${shown} shown` : '');
  if (view.types.length === 0) {
    container.replaceChildren(h('p', { class: 'empty', text: 'No agents registered yet.' }));
    return;
  }
  if (shown === 0) {
    container.replaceChildren(h('p', { class: 'empty', text: 'No agent matches the filter.' }));
    return;
  }
  const demo = demoAgents(view);
  let leaseShown = false;
  const visible = view.types
    .map((group) => ({ ...group, agents: group.agents.filter((agent) => matchesFilter(agent, filter)) }))
    .filter((group) => group.agents.length > 0);
  const groups = visible.map((group) => {
    const chips = HEALTHS.filter((health) => group.counts[health] > 0).map((health) =>
      h('span', { class: `badge ${health}`, text: `${group.counts[health]} ${health}` }),
    );
    const rows = group.agents.map((agent) => {
      if (agent.certificateExpiresAt === undefined) leaseShown = true;
      return agentRow(agent, demo.has(agent.id));
    });
    return h('section', { class: 'type-group', dataset: { type: group.type } }, [
      h('div', { class: 'type-header' }, [
        h('h3', { text: group.type }),
        h('span', { class: 'count', text: plural(group.agents.length, 'agent') }),
        h('div', { class: 'chips' }, chips),
      ]),
      h(
        'div',
        { class: 'scroll' },
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
      ),
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

/**
 * @param {AgentView} agent
 * @param {boolean} demo whether it is a demo agent that fails on purpose
 * @returns {HTMLTableRowElement}
 */
function agentRow(agent, demo) {
  const labels = Object.entries(agent.labels ?? {}).map(([key, value]) => `${key}=${value}`);
  const row = h('tr', { class: 'agent-row', dataset: { agentId: agent.id, health: agent.health } }, [
    h('td', {}, [
      h('a', { class: 'mono agent-link', href: agentHref(agent.id), text: agent.id }),
      demo ? h('span', { class: 'demo-note', title: DEMO_TITLE, text: DEMO_NOTE }) : null,
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
  // The whole row opens the agent's page; the name stays a link (keyboard, new tab), and text can still be selected.
  row.addEventListener('click', (event) => {
    const target = /** @type {Element} */ (event.target);
    if (target.closest('a') || window.getSelection()?.toString()) return;
    window.location.hash = agentHref(agent.id);
  });
  return /** @type {HTMLTableRowElement} */ (row);
}

/**
 * Calls in flight: a bar against the agent's concurrency limit, or the bare number when it has none.
 * @param {AgentView} agent
 * @returns {HTMLElement}
 */
function loadCell(agent) {
  if (agent.maxConcurrency > 0) {
    const share = Math.min(1, agent.inFlight / agent.maxConcurrency);
    const fill = h('span');
    fill.style.width = `${Math.round(share * 100)}%`;
    const bar = h('div', { class: `bar ${share >= 1 ? 'full' : share >= 0.75 ? 'high' : ''}` }, fill);
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

/**
 * When the agent's certificate expires, or its lease when this replica has not seen the certificate.
 * @param {AgentView} agent
 * @returns {HTMLTableCellElement}
 */
function expiryCell(agent) {
  if (agent.certificateExpiresAt !== undefined) {
    return h(
      'td',
      {},
      relativeTime(agent.certificateExpiresAt, { warnWithinMs: CERTIFICATE_WARNING_MS }),
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
