// @ts-check
// The agents panel: one table per agent type, a row per agent with its health, load, identity and expiry.
import { byId, h } from './dom.js';
import { plural } from './format.js';
import { CERTIFICATE_WARNING_MS, refreshRelativeTimes, relativeTime } from './time.js';

/** @typedef {import('./api-types.js').AgentView} AgentView */
/** @typedef {import('./api-types.js').AgentsView} AgentsView */
/** @typedef {import('./api-types.js').Health} Health */

/** @type {readonly Health[]} */
const HEALTHS = ['healthy', 'unhealthy', 'draining'];

/**
 * Shows the agents grouped by type; a footnote explains the rows that show a lease instead of a certificate.
 * @param {AgentsView} view
 */
export function renderAgents(view) {
  const container = byId('agent-types');
  byId('agents-hint').textContent = `${plural(view.total, 'agent')} in ${plural(view.types.length, 'type')}`;
  if (view.types.length === 0) {
    container.replaceChildren(h('p', { class: 'empty', text: 'No agents registered yet.' }));
    return;
  }
  let leaseShown = false;
  const groups = view.types.map((group) => {
    const chips = HEALTHS.filter((health) => group.counts[health] > 0).map((health) =>
      h('span', { class: `badge ${health}`, text: `${group.counts[health]} ${health}` }),
    );
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

/**
 * @param {AgentView} agent
 * @returns {HTMLTableRowElement}
 */
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
