// @ts-check
// The topics view (`#/topics`): the registered subscriptions by topic pattern, with their queue groups.
import { byId, h } from './dom.js';
import { plural } from './format.js';
import { agentHref } from './router.js';

/** @typedef {import('./api-types.js').TopicsView} TopicsView */

/**
 * Shows the topics.
 * @param {TopicsView} view
 */
export function renderTopics(view) {
  const note = h('p', {
    class: 'hint',
    text:
      'From the subscriptions agents register. Events go from publisher to subscriber directly (or through ' +
      'JetStream for durable events), not through the control plane: it has no rates and no dead letters to ' +
      "show. Each publisher keeps its own dead letters (the agent's publisher statistics, replayed with " +
      'publisher.replay).',
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
  );
}
