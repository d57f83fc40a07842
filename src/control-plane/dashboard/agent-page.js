// @ts-check
// An agent's page (`#/agents/<id>`): its card and skills, labels, certificate, load and calls per minute, its
// calls out and in with latency percentiles, its latest problems and its subscriptions.
import { barChart } from './charts.js';
import { DEMO_NOTE, DEMO_TITLE } from './demo.js';
import { byId, h } from './dom.js';
import { agentCell, errorCell, lastErrorCell, latencyCells, methodList } from './edge-table.js';
import { formatClock, formatRate, plural } from './format.js';
import { CERTIFICATE_WARNING_MS, refreshRelativeTimes, relativeTime } from './time.js';

/** @typedef {import('./api-types.js').AgentDetailView} AgentDetailView */
/** @typedef {import('./api-types.js').CallEdge} CallEdge */

/**
 * Shows that the agent is not (or no longer) registered.
 * @param {string} id
 */
export function renderMissingAgent(id) {
  byId('view-agent').replaceChildren(
    backLink(),
    h('section', { class: 'panel' }, [
      h('h2', { text: id }),
      h('p', {
        class: 'empty',
        text: 'No agent with this id is registered (it may have left). Its calls stay in the overview while they are in the range.',
      }),
    ]),
  );
}

/** @returns {HTMLElement} */
function backLink() {
  return h('a', { class: 'back', href: '#/', text: '← Overview' });
}

/**
 * Shows an agent's page.
 * @param {AgentDetailView} detail
 * @param {Set<string>} demo the demo agents that fail on purpose
 */
export function renderAgentPage(detail, demo) {
  const { agent } = detail;
  const labels = Object.entries(agent.labels ?? {});
  const isDemo = demo.has(agent.id);
  const panel = (/** @type {string} */ title, /** @type {string} */ key, /** @type {Node[]} */ children) =>
    h('section', { class: 'panel', dataset: { section: key } }, [
      h('header', { class: 'panel-header' }, h('h2', { text: title })),
      ...children,
    ]);
  byId('view-agent').replaceChildren(
    backLink(),
    h('header', { class: 'agent-title', dataset: { agentId: agent.id } }, [
      h('h1', { class: 'mono', text: agent.id }),
      h('span', { class: `badge ${agent.health}`, text: agent.health }),
      h('span', { class: 'hint', text: `type ${agent.type}` }),
      isDemo ? h('span', { class: 'demo-note', title: DEMO_TITLE, text: `${DEMO_NOTE} failures` }) : null,
    ]),
    h('div', { class: 'agent-grid' }, [
      panel('Card', 'card', [
        h('dl', { class: 'facts' }, [
          fact('Description', agent.description || '—'),
          fact('Endpoint', h('span', { class: 'mono', text: agent.endpoint })),
          fact('SPIFFE ID', h('span', { class: 'mono', text: agent.spiffeId })),
          fact(
            'Certificate',
            agent.certificateExpiresAt !== undefined
              ? [
                  'expires ',
                  relativeTime(agent.certificateExpiresAt, { warnWithinMs: CERTIFICATE_WARNING_MS }),
                ]
              : 'not seen by this replica yet',
          ),
          fact('Lease', ['expires ', relativeTime(agent.leaseExpiresAt)]),
          fact('Registered', relativeTime(agent.registeredAt)),
          fact(
            'Concurrency',
            agent.maxConcurrency > 0 ? `at most ${agent.maxConcurrency} at once` : 'no limit',
          ),
          fact(
            'Labels',
            labels.length
              ? h(
                  'span',
                  { class: 'chips wrap' },
                  labels.map(([key, value]) => h('span', { class: 'label-chip', text: `${key}=${value}` })),
                )
              : 'none',
          ),
          fact('Capabilities', agent.capabilities.length ? agent.capabilities.join(', ') : 'none'),
        ]),
        detail.skills.length
          ? h(
              'ul',
              { class: 'skills' },
              detail.skills.map((skill) =>
                h('li', { dataset: { skill: skill.id } }, [
                  h('span', { class: 'mono', text: skill.id }),
                  skill.streaming ? h('span', { class: 'tag', text: 'streaming' }) : null,
                  ...skill.tags.map((tag) => h('span', { class: 'tag', text: tag })),
                  h('span', { class: 'sub', text: skill.name || '' }),
                  skill.description ? h('span', { class: 'sub', text: skill.description }) : null,
                ]),
              ),
            )
          : h('p', { class: 'hint', text: 'No skills on its card.' }),
      ]),
      panel('Load and calls, last hour', 'load', [
        h('p', {
          class: 'hint',
          text: `Now ${agent.inFlight} in flight, ${agent.queueDepth} queued. Per minute: the most in flight it reported, the calls it received and made (failed part in red).`,
        }),
        barChart(
          'most calls in flight',
          detail.calls.map((point) => ({
            at: point.at,
            value: detail.load.find((load) => load.at === point.at)?.maxInFlight ?? 0,
          })),
        ),
        barChart(
          'calls in per minute',
          detail.calls.map((point) => ({ at: point.at, value: point.callsIn, part: point.errorsIn })),
        ),
        barChart(
          'calls out per minute',
          detail.calls.map((point) => ({ at: point.at, value: point.callsOut, part: point.errorsOut })),
        ),
      ]),
    ]),
    panel(`Calls out, last ${detail.rangeMinutes} min`, 'calls-out', [
      callTable(detail.callsOut, 'out', demo),
    ]),
    panel(`Calls in, last ${detail.rangeMinutes} min`, 'calls-in', [callTable(detail.callsIn, 'in', demo)]),
    h('div', { class: 'agent-grid' }, [
      panel('Recent problems', 'errors', [
        detail.errors.length
          ? h(
              'ol',
              { class: 'activity-list' },
              detail.errors.map((entry) =>
                h(
                  'li',
                  {
                    class: `${entry.severity}${isDemo && entry.kind === 'call-failures' ? ' expected' : ''}`,
                    dataset: { kind: entry.kind },
                  },
                  [
                    h('time', { datetime: new Date(entry.at).toISOString(), text: formatClock(entry.at) }),
                    h('div', {}, [
                      h('span', { class: 'message', text: entry.message }),
                      entry.count > 1 ? h('span', { class: 'count', text: `×${entry.count}` }) : null,
                      isDemo && entry.kind === 'call-failures'
                        ? h('span', { class: 'demo-note', title: DEMO_TITLE, text: DEMO_NOTE })
                        : null,
                    ]),
                  ],
                ),
              ),
            )
          : h('p', { class: 'empty', text: 'No warnings or errors in the activity log.' }),
      ]),
      panel('Subscriptions', 'subscriptions', [
        detail.subscriptions.length
          ? h(
              'div',
              { class: 'scroll' },
              h('table', {}, [
                h(
                  'thead',
                  {},
                  h('tr', {}, [
                    h('th', { text: 'Topic pattern' }),
                    h('th', { text: 'Queue group' }),
                    h('th', { class: 'number', text: 'In flight at most' }),
                  ]),
                ),
                h(
                  'tbody',
                  {},
                  detail.subscriptions.map((subscription) =>
                    h('tr', { dataset: { pattern: subscription.pattern } }, [
                      h('td', {}, h('a', { class: 'mono', href: '#/topics', text: subscription.pattern })),
                      h('td', { text: subscription.group || '— (every event)' }),
                      h('td', {
                        class: 'number',
                        text: subscription.maxInFlight || '64 (default)',
                      }),
                    ]),
                  ),
                ),
              ]),
            )
          : h('p', { class: 'empty', text: 'No event subscriptions.' }),
      ]),
    ]),
  );
  refreshRelativeTimes();
}

/**
 * One fact of the card.
 * @param {string} term
 * @param {import('./dom.js').Child | import('./dom.js').Child[]} value
 * @returns {HTMLElement}
 */
function fact(term, value) {
  return h('div', { class: 'fact' }, h('dt', { text: term }), h('dd', {}, value));
}

/**
 * The calls an agent made (`out`, by callee) or received (`in`, by caller).
 * @param {CallEdge[]} edges
 * @param {'in' | 'out'} side
 * @param {Set<string>} demo
 * @returns {HTMLElement}
 */
function callTable(edges, side, demo) {
  if (edges.length === 0) {
    return h('p', {
      class: 'empty',
      text: side === 'out' ? 'It made no calls in the range.' : 'No calls to it were reported in the range.',
    });
  }
  return h(
    'div',
    { class: 'scroll' },
    h('table', { class: 'calls', dataset: { side } }, [
      h(
        'caption',
        {},
        `${plural(edges.length, side === 'out' ? 'callee' : 'caller')}; percentiles from the call reports of heartbeats`,
      ),
      h(
        'thead',
        {},
        h('tr', {}, [
          h('th', { text: side === 'out' ? 'Callee' : 'Caller' }),
          h('th', { text: 'Methods' }),
          h('th', { class: 'number', text: 'Calls' }),
          h('th', { class: 'number', text: 'Calls/s' }),
          h('th', { class: 'number', text: 'Errors' }),
          h('th', { class: 'number', text: 'p50' }),
          h('th', { class: 'number', text: 'p95' }),
          h('th', { class: 'number', text: 'p99' }),
          h('th', { text: 'Last error' }),
        ]),
      ),
      h(
        'tbody',
        {},
        edges.map((edge) =>
          h('tr', { dataset: { from: edge.from, to: edge.to } }, [
            side === 'out' ? agentCell(edge.to, edge.toType) : agentCell(edge.from, edge.fromType),
            h('td', { class: 'mono', title: edge.methods.join(', '), text: methodList(edge.methods) }),
            h('td', { class: 'number', text: edge.calls }),
            h('td', { class: 'number', text: formatRate(edge.ratePerSecond) }),
            errorCell(edge, demo),
            ...latencyCells(edge),
            lastErrorCell(edge),
          ]),
        ),
      ),
    ]),
  );
}
