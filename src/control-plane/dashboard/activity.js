// @ts-check
/* global document */
// The activity panel: what happened in the mesh (joins, departures, health changes, call failures), with a
// filter that keeps only the problems.
import { DEMO_NOTE, DEMO_TITLE } from './demo.js';
import { byId, h } from './dom.js';
import { formatClock } from './format.js';

/** @typedef {import('./api-types.js').ActivityEntry} ActivityEntry */
/** @typedef {import('./api-types.js').ActivityKind} ActivityKind */
/** @typedef {'all' | 'problems'} ActivityFilter */

/** @type {Record<ActivityKind, string>} */
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

/**
 * The activity panel: wires the filter buttons (`.filter button[data-filter]`) and returns what shows a new list
 * of entries (and the demo agents whose call failures are expected). The panel keeps the latest list, so that a
 * change of filter shows it again at once.
 * @returns {(entries: ActivityEntry[], demo: Set<string>) => void}
 */
export function activityPanel() {
  /** @type {ActivityEntry[]} */
  let shown = [];
  /** @type {Set<string>} */
  let demoIds = new Set();
  /** @type {ActivityFilter} */
  let filter = 'all';
  const buttons = /** @type {NodeListOf<HTMLButtonElement>} */ (document.querySelectorAll('.filter button'));
  for (const button of buttons) {
    button.addEventListener('click', () => {
      filter = button.dataset.filter === 'problems' ? 'problems' : 'all';
      for (const other of buttons) other.setAttribute('aria-pressed', String(other === button));
      renderActivity(shown, filter, demoIds);
    });
  }
  return (entries, demo) => {
    shown = entries;
    demoIds = demo;
    renderActivity(shown, filter, demoIds);
  };
}

/**
 * @param {ActivityEntry[]} activity
 * @param {ActivityFilter} filter
 * @param {Set<string>} demo
 */
function renderActivity(activity, filter, demo) {
  const list = byId('activity');
  const entries = activity.filter((entry) => filter === 'all' || entry.severity !== 'info');
  if (entries.length === 0) {
    list.replaceChildren(
      h('li', {
        class: 'empty',
        text: filter === 'all' ? 'Nothing has happened yet.' : 'No problems recorded.',
      }),
    );
    return;
  }
  list.replaceChildren(
    ...entries.map((entry) => {
      const expected =
        entry.kind === 'call-failures' && entry.agentId !== undefined && demo.has(entry.agentId);
      return h(
        'li',
        {
          class: `${entry.severity}${expected ? ' expected' : ''}`,
          dataset: { kind: entry.kind, agentId: entry.agentId },
        },
        [
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
            expected ? h('span', { class: 'demo-note', title: DEMO_TITLE, text: DEMO_NOTE }) : null,
          ]),
        ],
      );
    }),
  );
}
