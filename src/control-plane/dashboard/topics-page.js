// @ts-check
// The topics view (`#/topics`): the registered subscriptions by topic pattern, with their queue groups, and the
// durable event store's stream and consumers when the control plane has one.
import { byId, h } from './dom.js';
import { plural } from './format.js';
import { agentHref } from './router.js';

/** @typedef {import('./api-types.js').EventsView} EventsView */
/** @typedef {import('./api-types.js').TopicsView} TopicsView */

/**
 * A table with a header row and a row per item.
 * @template T
 * @param {string[]} headers the headers; a header ending in `#` is a number column (the `#` is not shown)
 * @param {T[]} items
 * @param {(item: T) => import('./dom.js').Child[]} cells
 * @returns {HTMLElement}
 */
function table(headers, items, cells) {
  const numeric = headers.map((header) => header.endsWith('#'));
  return h(
    'div',
    { class: 'scroll' },
    h('table', {}, [
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((header, i) =>
            h('th', { class: numeric[i] ? 'number' : undefined, text: header.replace(/#$/, '') }),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        items.map((item) =>
          h(
            'tr',
            {},
            cells(item).map((cell, i) => h('td', { class: numeric[i] ? 'number' : undefined }, cell)),
          ),
        ),
      ),
    ]),
  );
}

/**
 * The durable event store's part: the stream, events stored per topic, and the consumers' backlogs.
 * @param {EventsView | undefined} events
 * @returns {HTMLElement}
 */
function eventStorePanel(events) {
  /** @param {import('./dom.js').Child[]} children */
  const panel = (...children) =>
    h('section', { class: 'panel', dataset: { section: 'event-store' } }, [
      h('header', { class: 'panel-header' }, h('h2', { text: 'Durable events (NATS JetStream)' })),
      ...children,
    ]);
  if (!events || !events.enabled) {
    return panel(
      h('p', {
        class: 'hint',
        text:
          'No event store: events go from publisher to subscriber directly, never through the control plane, ' +
          'so it has no rates or dead letters to show. Each publisher keeps its own (its publisher statistics; ' +
          'publisher.replay). Start the control plane with an event store for durable events and their dead letters.',
      }),
    );
  }
  if ('error' in events) return panel(h('p', { class: 'error-text', text: events.error }));
  const { store } = events;
  return panel(
    h('p', {
      class: 'hint',
      text:
        `Stream ${store.stream}: ${store.messages} events stored (sequences ${store.firstSequence}-${store.lastSequence}), ` +
        `${plural(store.replicas, 'replica')}${store.leader ? `, leader ${store.leader}` : ''}. ` +
        'Dead letters are counted under the topic of their event; `agent-mesh events dead-letters` lists them.',
    }),
    h('h3', { text: 'Stored events by topic' }),
    store.topics.length
      ? table(['Topic', 'Stored#'], store.topics, (topic) => [
          h('span', { class: 'mono', text: topic.topic }),
          topic.messages,
        ])
      : h('p', { class: 'hint', text: 'none yet' }),
    h('h3', { text: 'Consumers (one per subscription or queue group)' }),
    store.consumers.length
      ? table(
          ['Pattern', 'Group', 'Subscribers', 'Pending#', 'Unacknowledged#', 'Redelivered#'],
          store.consumers,
          (consumer) => [
            h('span', { class: 'mono', text: consumer.pattern }),
            consumer.group || '—',
            consumer.subscribers.join(', ') || '—',
            consumer.pending,
            consumer.ackPending,
            consumer.redelivered,
          ],
        )
      : h('p', { class: 'hint', text: 'none' }),
    events.consumersOmitted
      ? h('p', { class: 'hint', text: `and ${events.consumersOmitted} more consumers` })
      : null,
  );
}

/**
 * Shows the topics, and the event store when there is one.
 * @param {TopicsView} view
 * @param {EventsView | undefined} events
 */
export function renderTopics(view, events) {
  const note = h('p', {
    class: 'hint',
    text: 'From the subscriptions agents register: who receives the events of each topic pattern, and how groups split them.',
  });
  const body = view.topics.length
    ? view.topics.map((topic) =>
        h('section', { class: 'type-group', dataset: { topic: topic.pattern } }, [
          h('div', { class: 'type-header' }, [
            h('h3', { class: 'mono', text: topic.pattern }),
            h('span', { class: 'count', text: plural(topic.subscribers.length, 'subscription') }),
            h(
              'div',
              { class: 'chips' },
              topic.groups.map((group) =>
                h('span', {
                  class: 'label-chip',
                  title: 'a queue group: each event goes to one of its members',
                  text: `group ${group.group}: ${plural(group.members, 'member')}`,
                }),
              ),
              topic.ungrouped
                ? h('span', {
                    class: 'label-chip',
                    title: 'subscriptions outside any group each get every event',
                    text: `${topic.ungrouped} without a group`,
                  })
                : null,
            ),
          ]),
          h(
            'div',
            { class: 'scroll' },
            h('table', {}, [
              h(
                'thead',
                {},
                h('tr', {}, [
                  h('th', { text: 'Subscriber' }),
                  h('th', { text: 'Health' }),
                  h('th', { text: 'Queue group' }),
                  h('th', { class: 'number', text: 'In flight at most' }),
                ]),
              ),
              h(
                'tbody',
                {},
                topic.subscribers.map((subscriber) =>
                  h('tr', { dataset: { agentId: subscriber.agentId } }, [
                    h(
                      'td',
                      {},
                      h('a', {
                        class: 'mono agent-link',
                        href: agentHref(subscriber.agentId),
                        text: subscriber.agentId,
                      }),
                      h('span', { class: 'sub', text: subscriber.agentType }),
                    ),
                    h('td', {}, h('span', { class: `badge ${subscriber.health}`, text: subscriber.health })),
                    h('td', { text: subscriber.group || '— (every event)' }),
                    h('td', { class: 'number', text: subscriber.maxInFlight || '64 (default)' }),
                  ]),
                ),
              ),
            ]),
          ),
        ]),
      )
    : [h('p', { class: 'empty', text: 'No agent subscribes to any topic.' })];
  byId('view-topics').replaceChildren(
    h('section', { class: 'panel' }, [
      h('header', { class: 'panel-header' }, [
        h('h2', { text: 'Topics' }),
        h('span', { class: 'hint', text: plural(view.topics.length, 'topic pattern') }),
      ]),
      note,
      ...body,
    ]),
    eventStorePanel(events),
  );
}
