/**
 * Events as publishers, subscribers and handlers see them, and their wire form (`Event`, `EventDelivery` in
 * proto/agentmesh/v1/types.proto).
 */
import type { CallContext } from '../core/call-context.js';
import { Code, fail, ok, quote, type Result } from '../core/errors.js';
import type { Event, Event__Output } from '../generated/agentmesh/v1/Event.js';
import { DEAD_LETTER_PREFIX, MAX_TOPIC_SEGMENTS, validateTopic } from '../core/topic.js';

/** Why and where an event failed, on events of a dead-letter topic. */
export interface DeadLetterInfo {
  originalEventId: string;
  originalTopic: string;
  /** The last failure: the handler's reason, or what the publisher saw. */
  reason: string;
  attempts: number;
  /** The SPIFFE ID of the subscriber that could not handle it, with the subscription's pattern and group. */
  subscriber: string;
  pattern: string;
  group: string;
  deadLetteredAt: number;
}

/** One published event. */
export interface MeshEvent {
  /** Unique per event: handlers use it to recognize a redelivery they already handled. */
  id: string;
  topic: string;
  /** The publisher's SPIFFE ID, checked by the subscriber against the delivery stream's verified peer. */
  publisher: string;
  /** When the publisher accepted it, ms since the epoch. */
  publishedAt: number;
  /** Read-only for handlers: every delivery of the event in a subscribing process shares these bytes. */
  payload: Buffer;
  contentType: string;
  /** Ordering key: events with the same key reach each subscription in publish order. Empty: unordered. */
  key: string;
  /** Trace, conversation, tenant and the chain of agents the event came through. */
  context: CallContext;
  deadLetter?: DeadLetterInfo;
}

/** An event as a subscription's handler receives it. */
export interface ReceivedEvent extends MeshEvent {
  /** 1 for the first delivery, counting up on each redelivery. */
  attempt: number;
  /** The subscription it was delivered for. */
  pattern: string;
  group: string;
}

/** How a handler finished with an event; returning nothing (or `ack`) acknowledges it. */
export type EventOutcome =
  | { outcome: 'ack' }
  | { outcome: 'retry'; afterMs?: number; reason?: string }
  | { outcome: 'drop'; reason: string };

/** Handles the events of one subscription. Throwing asks for a redelivery after a backoff. */
export type EventHandler = (event: ReceivedEvent) => Promise<EventOutcome | void> | EventOutcome | void;

/** Asks for a redelivery after `afterMs` (the backoff when omitted). */
export function retryLater(afterMs?: number, reason?: string): EventOutcome {
  return { outcome: 'retry', ...(afterMs !== undefined ? { afterMs } : {}), ...(reason ? { reason } : {}) };
}

/** Gives up on an event at once: it goes to the dead-letter topic with `reason`. */
export function dropEvent(reason: string): EventOutcome {
  return { outcome: 'drop', reason };
}

/** What a publish did. */
export interface PublishReport {
  eventId: string;
  /** True when the event was valid, allowed, and taken for delivery to every subscription it was routed to. */
  accepted: boolean;
  /** Subscriptions without a group it was routed to (each gets it). */
  subscriptions: number;
  /** Queue groups it was routed to (one member of each gets it). */
  groups: number;
}

export { DEAD_LETTER_PREFIX } from '../core/topic.js';

/** The dead-letter topic of events that failed on `topic`: `dead-letter.<topic>`. */
export function deadLetterTopic(topic: string): string {
  return `${DEAD_LETTER_PREFIX}.${topic}`;
}

/** The largest event payload a publisher sends and a subscriber takes, unless configured otherwise: 1 MiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Checks the topic of an event: a concrete topic ({@link validateTopic}); a dead-letter topic
 * (`dead-letter.<topic>`) may have one segment more, since it names a topic that had them all.
 */
export function validateEventTopic(topic: string): Result<string> {
  const deadLetter = topic.startsWith(`${DEAD_LETTER_PREFIX}.`);
  return validateTopic(topic, deadLetter ? MAX_TOPIC_SEGMENTS + 1 : MAX_TOPIC_SEGMENTS);
}

/** Longest event id, ordering key and content type: they travel with every delivery and into logs. */
const MAX_EVENT_ID = 256;
const MAX_EVENT_KEY = 256;
const MAX_CONTENT_TYPE = 128;

/**
 * Checks what every event must be, on both ends of a delivery: the publisher checks it before it accepts an event,
 * and each subscriber again before a handler sees one (a peer with a mesh certificate can call `DeliverEvents`
 * without the publisher's library). An event has an id (at most 256 characters, as its ordering key; its content
 * type at most 128), a valid topic ({@link validateEventTopic}) and a payload of at most `maxPayloadBytes`. The error is INVALID_ARGUMENT, or RESOURCE_EXHAUSTED for the payload, and says what
 * to change.
 */
export function validateEvent(
  event: Pick<MeshEvent, 'id' | 'topic' | 'payload'> & Partial<Pick<MeshEvent, 'key' | 'contentType'>>,
  maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES,
): Result<void> {
  if (event.id === '')
    return fail(Code.INVALID_ARGUMENT, 'the event has no id: give it a unique id, e.g. a UUID');
  for (const [what, value, max] of [
    ['id', event.id, MAX_EVENT_ID],
    ['ordering key', event.key ?? '', MAX_EVENT_KEY],
    ['content type', event.contentType ?? '', MAX_CONTENT_TYPE],
  ] as const) {
    if (value.length > max) {
      return fail(
        Code.INVALID_ARGUMENT,
        `the event's ${what} ${quote(value)} has ${value.length} characters; at most ${max} are allowed`,
      );
    }
  }
  const topic = validateEventTopic(event.topic);
  if (!topic.ok) return topic;
  return validatePayloadSize(event.payload.length, maxPayloadBytes);
}

/** The payload part of {@link validateEvent}: RESOURCE_EXHAUSTED for a payload over `maxPayloadBytes`. */
export function validatePayloadSize(
  bytes: number,
  maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES,
): Result<void> {
  if (bytes > maxPayloadBytes) {
    return fail(
      Code.RESOURCE_EXHAUSTED,
      `event payload of ${bytes} bytes is over the limit of ${maxPayloadBytes} bytes; send a reference (e.g. a URL) to large data instead`,
    );
  }
  return ok(undefined);
}

/** An event as `Agent.DeliverEvents` carries it (`Event` in types.proto). */
export function eventToWire(event: MeshEvent): Event {
  return {
    id: event.id,
    topic: event.topic,
    publisher: event.publisher,
    publishedAtUnixMs: event.publishedAt,
    payload: event.payload,
    contentType: event.contentType,
    key: event.key,
    context: {
      traceparent: event.context.traceparent ?? '',
      tracestate: event.context.tracestate ?? '',
      conversationId: event.context.conversationId ?? '',
      tenant: event.context.tenant ?? '',
      callerChain: event.context.chain,
    },
    ...(event.deadLetter
      ? {
          deadLetter: {
            ...event.deadLetter,
            deadLetteredAtUnixMs: event.deadLetter.deadLetteredAt,
          },
        }
      : {}),
  };
}

/** An event received on `Agent.DeliverEvents`, unchecked: see {@link validateEvent}. */
export function eventFromWire(event: Event__Output): MeshEvent {
  const context: CallContext = {
    chain: (event.context?.callerChain ?? []).filter((entry) => entry.startsWith('spiffe://')),
  };
  if (event.context?.traceparent) context.traceparent = event.context.traceparent;
  if (event.context?.tracestate) context.tracestate = event.context.tracestate;
  if (event.context?.conversationId) context.conversationId = event.context.conversationId;
  if (event.context?.tenant) context.tenant = event.context.tenant;
  const dead = event.deadLetter;
  return {
    id: event.id,
    topic: event.topic,
    publisher: event.publisher,
    publishedAt: Number(event.publishedAtUnixMs),
    payload: event.payload,
    contentType: event.contentType,
    key: event.key,
    context,
    ...(dead
      ? {
          deadLetter: {
            originalEventId: dead.originalEventId,
            originalTopic: dead.originalTopic,
            reason: dead.reason,
            attempts: dead.attempts,
            subscriber: dead.subscriber,
            pattern: dead.pattern,
            group: dead.group,
            deadLetteredAt: Number(dead.deadLetteredAtUnixMs),
          },
        }
      : {}),
  };
}
