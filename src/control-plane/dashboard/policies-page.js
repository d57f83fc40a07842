// @ts-check
// The policies view (`#/policies`), read-only: the default, the rules, rate limits, grants and revoked identities
// in force on this replica.
import { byId, h } from './dom.js';
import { plural } from './format.js';

/** @typedef {import('./api-types.js').PoliciesView} PoliciesView */

/**
 * A list of values, or "any" for an empty one (an empty list places no condition).
 * @param {readonly string[] | undefined} values
 * @returns {HTMLElement}
 */
function list(values) {
  if (!values || values.length === 0) return h('span', { class: 'hint', text: 'any' });
  return h('span', { class: 'mono', text: values.join(', ') });
}

/**
 * A table with a header row and a row per item.
 * @template T
 * @param {string} title
 * @param {string} key
 * @param {string[]} headers
 * @param {T[]} items
 * @param {(item: T) => import('./dom.js').Child[]} cells
 * @returns {HTMLElement}
 */
function table(title, key, headers, items, cells) {
  return h('section', { class: 'policy-part', dataset: { part: key } }, [
    h('h3', { text: `${title} (${items.length})` }),
    items.length
      ? h(
          'div',
          { class: 'scroll' },
          h('table', {}, [
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                headers.map((header) => h('th', { text: header })),
              ),
            ),
            h(
              'tbody',
              {},
              items.map((item) =>
                h(
                  'tr',
                  {},
                  cells(item).map((cell) => h('td', {}, cell)),
                ),
              ),
            ),
          ]),
        )
      : h('p', { class: 'hint', text: 'none' }),
  ]);
}

/**
 * Shows the policies.
 * @param {PoliciesView} view
 */
export function renderPolicies(view) {
  const { policies } = view;
  const rules = policies.rules ?? [];
  const defaultText =
    view.revision === 0
      ? 'No policies set: everything is allowed (the default until an operator sets policies).'
      : `Default effect when no rule matches: ${policies.defaultEffect}. Deny rules win over allow rules.`;
  byId('view-policies').replaceChildren(
    h('section', { class: 'panel' }, [
      h('header', { class: 'panel-header' }, [
        h('h2', { text: 'Policies' }),
        h('span', {
          class: 'hint',
          text: `${plural(rules.length, 'rule')}, store revision ${view.revision}; read-only`,
        }),
      ]),
      h('p', { class: `policy-default ${policies.defaultEffect}`, text: defaultText }),
      table(
        'Rules',
        'rules',
        ['Rule', 'Effect', 'Actions', 'Callers', 'Caller types', 'Target types', 'Methods', 'Topics'],
        rules,
        (rule) => [
          h('span', { class: 'mono', text: rule.id }),
          h('span', { class: `effect ${rule.effect}`, text: rule.effect }),
          list(rule.actions),
          list(rule.callers),
          list(rule.callerTypes),
          list(rule.targetTypes),
          list(rule.methods),
          list(rule.topics),
        ],
      ),
      table(
        'Rate limits',
        'rate-limits',
        ['Limit', 'Callers', 'Caller types', 'Target types', 'Methods', 'Calls/s', 'Burst', 'Tokens/min'],
        policies.rateLimits ?? [],
        (limit) => [
          h('span', { class: 'mono', text: limit.id }),
          list(limit.callers),
          list(limit.callerTypes),
          list(limit.targetTypes),
          list(limit.methods),
          limit.requestsPerSecond || '—',
          limit.burst || '—',
          limit.tokensPerMinute || '—',
        ],
      ),
      table(
        'Grants',
        'grants',
        ['Grant', 'Callers', 'Caller types', 'Types granted', 'Priority'],
        policies.grants ?? [],
        (grant) => [
          h('span', { class: 'mono', text: grant.id }),
          list(grant.callers),
          list(grant.callerTypes),
          list(grant.types),
          grant.priority || '—',
        ],
      ),
      table(
        'Revoked identities',
        'revoked',
        ['SPIFFE ID pattern'],
        policies.revokedIdentities ?? [],
        (uri) => [h('span', { class: 'mono', text: uri })],
      ),
    ]),
  );
}
