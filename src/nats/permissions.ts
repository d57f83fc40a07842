import { topicPermissions, type PolicySet } from '../core/policy.js';
import { DEAD_LETTER_PREFIX } from '../core/topic.js';
import type { NatsPermissions } from './nats-accounts.js';
import { EVENT_STREAM, deadLetterPublishSubject, inboxPrefix, publishSubject } from './subjects.js';

/**
 * The NATS permissions of one mesh identity, which NATS enforces whatever client the identity connects with:
 * - publish events only under its own publisher token, to the topics its publish policies allow (the policies'
 *   deny patterns are denied on NATS too), and dead letters of the topics its subscriptions receive;
 * - read and acknowledge only the durable consumers of its own subscriptions (`consumers`: the control plane
 *   creates them for the subscriptions its subscribe policies allow; no identity may create, delete or read
 *   any other consumer or the stream itself);
 * - receive replies only on its own inbox prefix.
 */
export function eventPermissions(
  policies: PolicySet,
  identity: { uri: string; types: readonly string[] },
  consumers: ReadonlyArray<{ consumer: string; pattern: string }>,
): NatsPermissions {
  const topics = topicPermissions(policies, identity, 'publish');
  return {
    pub: {
      allow: [
        ...topics.allow.map((pattern) => publishSubject(identity.uri, pattern)),
        // Dead letters only of events its own subscriptions receive.
        ...consumers
          .filter(({ pattern }) => !pattern.startsWith(`${DEAD_LETTER_PREFIX}.`))
          .map(({ pattern }) => deadLetterPublishSubject(identity.uri, pattern)),
        ...consumers.flatMap(({ consumer }) => [
          `$JS.API.CONSUMER.INFO.${EVENT_STREAM}.${consumer}`,
          `$JS.API.CONSUMER.MSG.NEXT.${EVENT_STREAM}.${consumer}`,
          `$JS.ACK.${EVENT_STREAM}.${consumer}.>`,
        ]),
      ],
      deny: topics.deny.map((pattern) => publishSubject(identity.uri, pattern)),
    },
    sub: { allow: [`${inboxPrefix(identity.uri)}.>`], deny: [] },
  };
}
