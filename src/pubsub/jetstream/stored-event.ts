/**
 * How an event is stored in the event stream, and how a stored one is read back. The subject an event is stored
 * under (`am.ev.<publisher>.<topic>`, see nats/subjects.ts) already names its publisher, which NATS enforces, and
 * its topic, so an event is stored without them (and without the publisher at the end of its caller chain): about
 * a hundred bytes less on every delivery, for the server and for every subscriber. A reader takes them from the
 * subject. Events stored whole, as dead letters and replays are and as events were before, are read too: their
 * publisher and topic must be the subject's.
 */
import type { Event } from '../../generated/agentmesh/v1/Event.js';
import { deadLetterRefusal, parseEventSubject, publisherOfToken } from '../../nats/subjects.js';
import { eventToWire, validateEvent, type MeshEvent } from '../event.js';

/** An event as the stream stores it: without what its subject names, unless it is a dead letter. */
export function storedEventToWire(event: MeshEvent): Event {
  const wire = eventToWire(event);
  if (event.deadLetter) return wire;
  // The reader appends the publisher to a chain that does not end with it, so a chain that ends with it twice (an
  // agent publishing while it handles its own event) is stored as it is: else a loop would never reach the hop limit.
  const chain = event.context.chain;
  const drop = chain.at(-1) === event.publisher && chain.at(-2) !== event.publisher;
  return {
    ...wire,
    topic: '',
    publisher: '',
    context: { ...wire.context, callerChain: drop ? chain.slice(0, -1) : chain },
  };
}

/** Whether a decoded event was stored without its publisher and topic (by {@link storedEventToWire}). */
export function isCompact(event: MeshEvent): boolean {
  return event.publisher === '' && event.topic === '';
}

/** A stored event read back under its subject: the whole event, or why it is refused whoever reads it. */
export type StoredEvent = { event: MeshEvent; refusal?: undefined } | { event?: undefined; refusal: string };

/**
 * Reads `decoded`, an event stored under `subject` in the event stream of a mesh of `trustDomain`: completes a
 * compact one from its subject and checks it as a delivered one is checked (`validateEvent` without the payload
 * limit, which is each subscriber's own), or checks that a whole one names the subject's publisher (the one NATS
 * enforced; another named inside is a forgery) and topic (`invalid`: why it fails `validateEvent`). Either way a
 * dead letter must be reported by the subscriber that gave up on the event, under its own identity, and only on
 * the dead-letter topic of the event's topic; nothing else carries dead-letter details. The chain of the event
 * read ends with its publisher, as a delivered event's ends with its verified publisher.
 */
export function readStoredEvent(
  subject: string,
  decoded: MeshEvent,
  invalid: string | undefined,
  trustDomain: string,
): StoredEvent {
  const parsed = parseEventSubject(subject);
  if (!parsed) return { refusal: `a message on ${subject}, not an event subject` };
  const publisher = publisherOfToken(parsed.token, trustDomain);
  if (!publisher)
    return { refusal: `a message on ${subject}, whose publisher is not an identity of the mesh` };
  let event = decoded;
  if (isCompact(decoded)) {
    event = { ...decoded, publisher, topic: parsed.topic };
    const valid = validateEvent(event, Number.POSITIVE_INFINITY);
    if (!valid.ok) return { refusal: valid.error.message };
  } else {
    if (invalid) return { refusal: invalid };
    if (event.publisher !== publisher || event.topic !== parsed.topic) {
      return {
        refusal: `the event names publisher ${event.publisher} and topic ${event.topic} but was stored by ${parsed.token} on ${parsed.topic}`,
      };
    }
  }
  const refusal = deadLetterRefusal(parsed, event);
  if (refusal) return { refusal };
  const chain = event.context.chain;
  if (chain.at(-1) !== event.publisher) {
    event = { ...event, context: { ...event.context, chain: [...chain, event.publisher] } };
  }
  return { event };
}
