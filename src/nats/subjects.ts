/**
 * How the mesh's events are laid out on NATS JetStream: one stream, one subject per publisher and topic, one
 * durable consumer per subscription (or queue group). The publisher is part of the subject so that NATS itself
 * enforces it: an identity's credentials let it publish only under its own token.
 */
import { createHash } from 'node:crypto';
import type { Subscription } from '../core/subscription.js';
import { parseSpiffeId } from '../core/spiffe-id.js';
import { DEAD_LETTER_PREFIX } from '../core/topic.js';

/**
 * The stream holding every event of the mesh. Short, as consumer names are: both are in the ack subject of every
 * delivery, which the subscriber sends back as its ack and NATS parses, hashes and checks against the subscriber's
 * permissions each time.
 */
export const EVENT_STREAM = 'AM_EVENTS';

/** The first two tokens of every event subject: `am.ev.<publisher>.<topic>`. */
export const EVENT_SUBJECT_PREFIX = 'am.ev';

/**
 * The first two tokens of dead letters' subjects: the dead letter of an event of `tasks.created` reported by
 * subscriber S is stored under `am.dl.<S>.tasks.created`, apart from events, so that NATS can let an identity report
 * dead letters only of the topics its subscriptions receive (NATS permissions cannot carve `dead-letter.>` out of
 * an allowed `>`). Dead letters reach the subscriptions whose pattern starts with `dead-letter.`.
 */
export const DEAD_LETTER_SUBJECT_PREFIX = 'am.dl';

/** The subjects of the event stream. */
export const EVENT_STREAM_SUBJECTS = [`${EVENT_SUBJECT_PREFIX}.>`, `${DEAD_LETTER_SUBJECT_PREFIX}.>`];

/**
 * The subject token standing for a publisher: its SPIFFE ID's path without the leading `/`, with `/` written as
 * `!` and `.` as `~` (neither appears in a valid SPIFFE ID path segment, and NATS tokens may hold neither `.` nor
 * wildcards): `spiffe://agentmesh.local/agent/billing.eu-1` is `agent!billing~eu-1`.
 */
export function publisherToken(spiffeId: string): string {
  // A publisher names itself on every publish: the last one asked is remembered.
  if (lastToken && spiffeId === lastToken.spiffeId) return lastToken.token;
  const parsed = parseSpiffeId(spiffeId);
  if (!parsed.ok) throw parsed.error;
  const token = tokenOfPath(parsed.value.path);
  lastToken = { spiffeId, token };
  return token;
}

let lastToken: { spiffeId: string; token: string } | undefined;

function tokenOfPath(path: string): string {
  return path.slice(1).replaceAll('/', '!').replaceAll('.', '~');
}

/**
 * The SPIFFE ID a subject token stands for, in `trustDomain` (the mesh's: the event store grants credentials to
 * its identities only, see `EventStore.grant`), or undefined when it stands for none. Undoes {@link publisherToken}
 * exactly: `!` and `~` appear in no valid SPIFFE ID path.
 */
export function publisherOfToken(token: string, trustDomain: string): string | undefined {
  const parsed = parseSpiffeId(`spiffe://${trustDomain}/${token.replaceAll('!', '/').replaceAll('~', '.')}`);
  return parsed.ok ? parsed.value.uri : undefined;
}

/** `dead-letter.<rest>` → `<rest>`; undefined for another topic or pattern. */
function deadLetterRest(topic: string): string | undefined {
  return topic.startsWith(`${DEAD_LETTER_PREFIX}.`) ? topic.slice(DEAD_LETTER_PREFIX.length + 1) : undefined;
}

/** The subject an event of `topic` (or a dead letter, on `dead-letter.<topic>`) by `publisher` is stored under. */
export function eventSubject(publisher: string, topic: string): string {
  const rest = deadLetterRest(topic);
  return rest === undefined
    ? `${EVENT_SUBJECT_PREFIX}.${publisherToken(publisher)}.${topic}`
    : `${DEAD_LETTER_SUBJECT_PREFIX}.${publisherToken(publisher)}.${rest}`;
}

/** The subjects a publisher may publish events to for `pattern` (a topic or a topic pattern). */
export function publishSubject(publisher: string, pattern: string): string {
  return `${EVENT_SUBJECT_PREFIX}.${publisherToken(publisher)}.${pattern}`;
}

/** The subjects a subscriber may report dead letters to, of the events of `pattern`. */
export function deadLetterPublishSubject(subscriber: string, pattern: string): string {
  return `${DEAD_LETTER_SUBJECT_PREFIX}.${publisherToken(subscriber)}.${pattern}`;
}

/**
 * The filter of a consumer for a subscription to `pattern`: every publisher's events on matching topics, or, for
 * a pattern of dead-letter topics, every subscriber's dead letters of matching topics.
 */
export function subscriptionFilter(pattern: string): string {
  const rest = deadLetterRest(pattern);
  return rest === undefined
    ? `${EVENT_SUBJECT_PREFIX}.*.${pattern}`
    : `${DEAD_LETTER_SUBJECT_PREFIX}.*.${rest}`;
}

/** The subscription pattern of a consumer's filter ({@link subscriptionFilter} undone); undefined for another. */
export function patternOfFilter(filter: string): string | undefined {
  if (filter.startsWith(`${EVENT_SUBJECT_PREFIX}.*.`)) return filter.slice(EVENT_SUBJECT_PREFIX.length + 3);
  if (filter.startsWith(`${DEAD_LETTER_SUBJECT_PREFIX}.*.`)) {
    return `${DEAD_LETTER_PREFIX}.${filter.slice(DEAD_LETTER_SUBJECT_PREFIX.length + 3)}`;
  }
  return undefined;
}

/**
 * Splits a stored event's subject into its publisher token and topic (a dead letter's topic is
 * `dead-letter.<topic>`); undefined for a subject of another form.
 */
export function parseEventSubject(
  subject: string,
): { token: string; topic: string; deadLetter: boolean } | undefined {
  const deadLetter = subject.startsWith(`${DEAD_LETTER_SUBJECT_PREFIX}.`);
  if (!deadLetter && !subject.startsWith(`${EVENT_SUBJECT_PREFIX}.`)) return undefined;
  const rest = subject.slice(EVENT_SUBJECT_PREFIX.length + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) return undefined;
  const topic = rest.slice(dot + 1);
  return {
    token: rest.slice(0, dot),
    topic: deadLetter ? `${DEAD_LETTER_PREFIX}.${topic}` : topic,
    deadLetter,
  };
}

/**
 * Why an event stored under an event subject (parsed by {@link parseEventSubject}) is refused as a dead letter, or
 * undefined when it is not one or is one as it must be. A dead letter is reported by the subscriber that gave up on
 * the event, under its own identity (which NATS enforces through the subject), naming itself, on the dead-letter
 * topic of the event's own topic; no other event carries dead-letter details or a dead-letter subject or topic.
 * `event` names the publisher and topic its subject names (the caller checks that first).
 */
export function deadLetterRefusal(
  subject: { deadLetter: boolean },
  event: {
    publisher: string;
    topic: string;
    deadLetter?: { subscriber: string; originalTopic: string } | null | undefined;
  },
): string | undefined {
  const info = event.deadLetter;
  const onDeadLetterTopic = event.topic.startsWith(`${DEAD_LETTER_PREFIX}.`);
  if (!info && !onDeadLetterTopic && !subject.deadLetter) return undefined;
  if (!info || !onDeadLetterTopic || !subject.deadLetter || info.subscriber !== event.publisher) {
    return 'a dead letter must come from the subscriber it names, on dead-letter.<its topic>';
  }
  if (`${DEAD_LETTER_PREFIX}.${info.originalTopic}` !== event.topic) {
    return `the dead letter of an event of ${info.originalTopic} on ${event.topic}`;
  }
  return undefined;
}

/**
 * The durable consumer of a subscription: a queue group's members share one (`g-`), a subscription without a
 * group has its own, per subscriber (`s-`). Names are hashes: NATS consumer names hold no `.`, wildcards or path
 * separators, and the same subscription always gets the same consumer, across restarts and control-plane replicas.
 * 64 bits of SHA-256 in lowercase hex (consumers are directories of a file store, which may ignore case): the name
 * is in every delivery's ack subject (see {@link EVENT_STREAM}), and among a million subscriptions two share a name with a
 * chance of about one in 37 million.
 */
export function consumerName(
  subscriber: string,
  subscription: Pick<Subscription, 'pattern' | 'group'>,
): string {
  const owner = subscription.group ? `group\n${subscription.group}` : `subscriber\n${subscriber}`;
  const digest = createHash('sha256').update(`${owner}\n${subscription.pattern}`).digest('hex').slice(0, 16);
  return `${subscription.group ? 'g' : 's'}-${digest}`;
}

/** The inbox prefix of an identity's NATS connection: its replies (PubAcks, pulled messages) arrive under it. */
export function inboxPrefix(spiffeId: string): string {
  return `_INBOX_${publisherToken(spiffeId)}`;
}

/** Where a message read from a JetStream consumer stands: from the reply subject it carries for its ack. */
export interface DeliveryInfo {
  /** Its stream sequence. */
  sequence: number;
  /** Deliveries of it to this consumer so far, this one included. */
  deliveryCount: number;
}

/**
 * Reads `$JS.ACK[.<domain>.<account hash>].<stream>.<consumer>.<delivery count>.<stream sequence>.<consumer
 * sequence>.<timestamp>.<pending>[.<token>]` without splitting it (what `JsMsg.info` does: every message would
 * pay for an array of a dozen strings and an object of ten fields). Undefined for another subject.
 */
export function deliveryInfoOf(reply: string): DeliveryInfo | undefined {
  if (!reply.startsWith('$JS.ACK.')) return undefined;
  // The dots after the prefix: the old form has 7 tokens after `$JS.ACK`, the new one 9 or more.
  const dots: number[] = [7];
  for (let at = reply.indexOf('.', 8); at !== -1 && dots.length < 11; at = reply.indexOf('.', at + 1)) {
    dots.push(at);
  }
  const tokens = dots.length === 7 ? 7 : dots.length >= 9 ? dots.length : 0;
  if (tokens === 0) return undefined;
  const first = tokens === 7 ? 2 : 4; // the token index (from the prefix's end) of the delivery count
  const deliveryCount = countAt(reply, dots, first);
  const sequence = countAt(reply, dots, first + 1);
  if (!(deliveryCount >= 1 && sequence >= 1)) return undefined;
  return { sequence, deliveryCount };
}

/**
 * The token of `subject` after the dot at `dots[i]`, read as a count: decimal digits (at most 20) as a number, or
 * NaN (a sign, an exponent, hex, spaces, an empty token). Read in place: it runs twice on every delivery.
 */
function countAt(subject: string, dots: readonly number[], i: number): number {
  const start = dots[i]! + 1;
  const end = i + 1 < dots.length ? dots[i + 1]! : subject.length;
  if (end <= start || end - start > 20) return NaN;
  let count = 0;
  for (let at = start; at < end; at += 1) {
    const digit = subject.charCodeAt(at) - 48;
    if (digit < 0 || digit > 9) return NaN;
    count = count * 10 + digit;
  }
  return count;
}
