import { decodeEvent } from '../transport/delivery-codec.js';
import { eventFromWire, validateEvent, type MeshEvent, type ReceivedEvent } from './event.js';
import { isCompact } from './jetstream/stored-event.js';

/** An event as received, decoded once and checked once: what every delivery of the same bytes shares. */
export interface CheckedEvent {
  /** The event, or undefined when its bytes do not decode. Never handed to a handler as is (see `copyEvent`). */
  event: MeshEvent | undefined;
  /**
   * Why the event is refused whoever receives it (it does not decode, or fails {@link validateEvent} without the
   * payload limit, which is each subscriber's own); undefined when it passes.
   */
  invalid: string | undefined;
  /** Whether its topic matches a pattern, by pattern, filled as subscriptions ask. */
  matches: Map<string, boolean>;
  /**
   * For an event read from the event store: the last subject (and trust domain) it was read under, and what it
   * reads as there (the whole event, or why it is refused; see jetstream/stored-event.ts), with its own matches
   * (a compact stored event takes its topic from the subject), so that consumers of the same stream in one
   * process read a message once.
   */
  stored?: {
    subject: string;
    trustDomain: string;
    event?: MeshEvent;
    refusal?: string;
    matches: Map<string, boolean>;
  };
}

/** Options of {@link CheckedEvents}: its bounds. */
export interface CheckedEventsOptions {
  /** Events kept (default 1,024). */
  maxEvents?: number;
  /**
   * Bytes kept (default 16 MiB): each kept event holds on to the message it came in (its payload is a view of
   * it), so what counts is the size of those messages, each once however many of its events are kept.
   */
  maxBytes?: number;
}

interface Kept {
  key: number;
  forgotten?: boolean;
  /** The encoded event: a view of the message it came in. */
  bytes: Buffer;
  checked: CheckedEvent;
}

/**
 * The key an encoded event is found by: its length mixed with a few of its first bytes, where the event's first
 * field, its id, lies (and its last bytes). Only finds the candidate: a hit is an exact byte comparison.
 */
function keyOf(bytes: Buffer): number {
  const n = bytes.length;
  let key = Math.imul(n, 0x9e3779b1);
  for (let at = 2; at + 4 <= n && at < 42; at += 8) key = Math.imul(key ^ bytes.readInt32LE(at), 0x85ebca6b);
  if (n >= 4) key ^= bytes.readInt32LE(n - 4);
  return key & 0x3fffffff; // a small integer: the cheapest key a Map has
}

/**
 * The events a process received lately, by their encoded bytes, so that each is decoded and checked once for all
 * its deliveries in the process (an agent with several matching subscriptions, or several agents in one process,
 * get one delivery each of the same bytes), not once per delivery. A hit is an exact byte comparison, so two
 * different events never share an entry, whatever their ids; the key (see `keyOf`) only finds the candidate. Events
 * read from the event store are found by their bytes too, not by their stream, sequence and store time: agents of
 * two meshes in one process read two stores whose messages can share all three, and a hostile store could choose
 * them. Bounded in count and bytes, oldest out first; what depends on the receiver (the verified
 * publisher, the subscription, the payload limit, the policies) is checked per delivery by the caller.
 */
export class CheckedEvents {
  private readonly kept = new Map<number, Kept>();
  /** What was kept, oldest first, as a ring: evicting the oldest costs the same however many came and went. */
  private readonly order: Kept[] = [];
  private oldest = 0;
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private bytes = 0;
  /** The messages kept events are views of, with how many kept events each holds. */
  private readonly messages = new Map<ArrayBufferLike, number>();

  constructor(options: CheckedEventsOptions = {}) {
    this.maxEvents = Math.max(1, options.maxEvents ?? 1_024);
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  }

  /** Events kept now (for tests and metrics). */
  get size(): number {
    return this.kept.size;
  }

  /**
   * The decoded and checked event of `bytes`, from an earlier delivery of the same bytes when there was one. With
   * `keep` false (no other delivery of the same bytes can come: the process has one subscription) it is not kept.
   */
  check(bytes: Buffer, keep = true): CheckedEvent {
    if (!keep && this.kept.size === 0) return decodeAndCheck(bytes);
    const key = keyOf(bytes);
    const found = this.kept.get(key);
    if (found && found.bytes.equals(bytes)) return found.checked;
    const checked = decodeAndCheck(bytes);
    if (!keep || bytes.buffer.byteLength > this.maxBytes) return checked;
    const kept: Kept = { key, bytes, checked };
    if (found) this.forget(found);
    this.kept.set(key, kept);
    const holding = this.messages.get(bytes.buffer) ?? 0;
    this.messages.set(bytes.buffer, holding + 1);
    if (holding === 0) this.bytes += bytes.buffer.byteLength;
    while (this.order.length - this.oldest >= this.maxEvents || this.bytes > this.maxBytes) {
      if (this.oldest === this.order.length) break;
      this.forget(this.order[this.oldest]!);
      this.order[this.oldest++] = undefined as unknown as Kept;
    }
    if (this.oldest > this.maxEvents) {
      this.order.splice(0, this.oldest);
      this.oldest = 0;
    }
    this.order.push(kept);
    return checked;
  }

  /** Forgets `entry` (once: an entry replaced by another of the same key is forgotten when replaced). */
  private forget(entry: Kept): void {
    if (entry.forgotten) return;
    entry.forgotten = true;
    if (this.kept.get(entry.key) === entry) this.kept.delete(entry.key);
    const message = entry.bytes.buffer;
    const holding = this.messages.get(message)! - 1;
    if (holding > 0) {
      this.messages.set(message, holding);
    } else {
      this.messages.delete(message);
      this.bytes -= message.byteLength;
    }
  }
}

/**
 * A handler's own copy of a checked event: the object, its context and chain are its own; the payload is its own
 * `Buffer` over bytes that every delivery of the event in this process shares (read-only, as with any event).
 */
export function copyEvent(event: MeshEvent): MeshEvent {
  const { payload } = event;
  return {
    ...event,
    payload: Buffer.from(payload.buffer, payload.byteOffset, payload.length),
    context: { ...event.context, chain: [...event.context.chain] },
  };
}

/**
 * A handler's own copy of a checked event (as {@link copyEvent}) with the delivery's attempt and subscription, made
 * as one object literal: adding properties to a spread copy costs V8 a shape change each (several µs an event).
 */
export function receivedEvent(
  event: MeshEvent,
  delivery: { attempt: number; pattern: string; group: string },
): ReceivedEvent {
  const { payload, context } = event;
  return {
    id: event.id,
    topic: event.topic,
    publisher: event.publisher,
    publishedAt: event.publishedAt,
    payload: Buffer.from(payload.buffer, payload.byteOffset, payload.length),
    contentType: event.contentType,
    key: event.key,
    context: { ...context, chain: [...context.chain] },
    ...(event.deadLetter ? { deadLetter: event.deadLetter } : {}),
    attempt: delivery.attempt,
    pattern: delivery.pattern,
    group: delivery.group,
  };
}

function decodeAndCheck(bytes: Buffer): CheckedEvent {
  let event: MeshEvent;
  try {
    event = eventFromWire(decodeEvent(bytes));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { event: undefined, invalid: `the event does not decode: ${reason}`, matches: new Map() };
  }
  // An event stored without its publisher and topic (jetstream/stored-event.ts) is checked once they are read
  // from the subject it was stored under; delivered as it is, it is refused.
  if (isCompact(event)) {
    return { event, invalid: 'the event names no publisher and no topic', matches: new Map() };
  }
  const valid = validateEvent(event, Number.POSITIVE_INFINITY);
  return { event, invalid: valid.ok ? undefined : valid.error.message, matches: new Map() };
}
