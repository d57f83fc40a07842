/**
 * How the mesh's events are laid out on NATS JetStream: one stream, one subject per publisher and topic, one
 * durable consumer per subscription (or queue group). The publisher is part of the subject so that NATS itself
 * enforces it: an identity's credentials let it publish only under its own token.
 */
import { createHash } from 'node:crypto';
import type { Subscription } from '../core/subscription.js';
import { parseSpiffeId } from '../core/spiffe-id.js';

/** The stream holding every event of the mesh. */
export const EVENT_STREAM = 'AGENTMESH_EVENTS';

/** The first two tokens of every event subject: `am.ev.<publisher>.<topic>`. */
export const EVENT_SUBJECT_PREFIX = 'am.ev';

/**
 * The subject token standing for a publisher: its SPIFFE ID's path without the leading `/`, with `/` written as
 * `!` and `.` as `~` (neither appears in a valid SPIFFE ID path segment, and NATS tokens may hold neither `.` nor
 * wildcards): `spiffe://agentmesh.local/agent/billing.eu-1` is `agent!billing~eu-1`.
 */
export function publisherToken(spiffeId: string): string {
  const parsed = parseSpiffeId(spiffeId);
  if (!parsed.ok) throw parsed.error;
  return parsed.value.path.slice(1).replaceAll('/', '!').replaceAll('.', '~');
}

/** The subject an event of `topic` published by `publisher` is stored under. */
export function eventSubject(publisher: string, topic: string): string {
  return `${EVENT_SUBJECT_PREFIX}.${publisherToken(publisher)}.${topic}`;
}

/** The subjects a publisher may publish to for `pattern` (a topic or a topic pattern). */
export function publishSubject(publisher: string, pattern: string): string {
  return `${EVENT_SUBJECT_PREFIX}.${publisherToken(publisher)}.${pattern}`;
}

/** The filter of a consumer for a subscription to `pattern`: every publisher's events on matching topics. */
export function subscriptionFilter(pattern: string): string {
  return `${EVENT_SUBJECT_PREFIX}.*.${pattern}`;
}

/** Splits a stored event's subject into its publisher token and topic; undefined for a subject of another form. */
export function parseEventSubject(subject: string): { token: string; topic: string } | undefined {
  const prefix = `${EVENT_SUBJECT_PREFIX}.`;
  if (!subject.startsWith(prefix)) return undefined;
  const rest = subject.slice(prefix.length);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) return undefined;
  return { token: rest.slice(0, dot), topic: rest.slice(dot + 1) };
}

/**
 * The durable consumer of a subscription: a queue group's members share one (`g-`), a subscription without a
 * group has its own, per subscriber (`s-`). Names are hashes: NATS consumer names hold no `.`, wildcards or path
 * separators, and the same subscription always gets the same consumer, across restarts and control-plane replicas.
 */
export function consumerName(
  subscriber: string,
  subscription: Pick<Subscription, 'pattern' | 'group'>,
): string {
  const owner = subscription.group ? `group\n${subscription.group}` : `subscriber\n${subscriber}`;
  const digest = createHash('sha256').update(`${owner}\n${subscription.pattern}`).digest('hex').slice(0, 32);
  return `${subscription.group ? 'g' : 's'}-${digest}`;
}

/** The inbox prefix of an identity's NATS connection: its replies (PubAcks, pulled messages) arrive under it. */
export function inboxPrefix(spiffeId: string): string {
  return `_INBOX_${publisherToken(spiffeId)}`;
}
