import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { Backoff } from '../../core/backoff.js';
import { subscriptionKey, type Subscription } from '../../core/subscription.js';
import { matchesTopic } from '../../core/topic.js';
import { Code, MeshError } from '../../core/errors.js';
import type { Logger } from '../../observability/logger.js';
import { ThrottledLog } from '../../observability/throttled-log.js';
import type { MeshIdentity } from '../../transport/mesh-identity.js';
import { receivedEvent } from '../event-cache.js';
import {
  DEAD_LETTER_PREFIX,
  DEFAULT_MAX_PAYLOAD_BYTES,
  deadLetterTopic,
  validatePayloadSize,
  type EventOutcome,
  type MeshEvent,
  type ReceivedEvent,
} from '../event.js';
import type { SubscriptionSet } from '../subscriber.js';
import { deliveryInfoOf, type DeliveryInfo } from '../../nats/subjects.js';
import { readStoredEvent } from './stored-event.js';

/** Options of a {@link ConsumerRunner}. */
export interface ConsumerRunnerOptions {
  js: JetStreamClient;
  stream: string;
  consumer: string;
  subscription: Subscription;
  identity: MeshIdentity;
  logger: Logger;
  subscriptions: SubscriptionSet;
  maxDeliveries: number;
  ackWaitMs: number;
  backoffMs: number;
  maxBackoffMs: number;
  revoked: (spiffeId: string) => boolean;
  maxPayloadBytes?: number;
  /** Stores a dead letter (resolves once stored). */
  deadLetter: (letter: MeshEvent) => Promise<unknown>;
}

/** An event this process holds: being handled, waiting behind its key, or waiting for a local retry. */
interface Held {
  msg: JsMsg;
  /** The message's stream sequence. */
  sequence: number;
  event: ReceivedEvent;
  /** The attempt being made: the stream's delivery count, plus the retries made here for a keyed event. */
  attempt: number;
  /** Answered: no longer held. */
  released: boolean;
  timer?: NodeJS.Timeout;
}

/** Ordering keys whose last acknowledged sequence a runner remembers. */
const MAX_KEYS_REMEMBERED = 10_000;

/**
 * Where a message stands in its stream: read from its reply subject (nats.js's messages carry it, though `JsMsg`
 * does not declare it), or from `JsMsg.info`, which parses the same subject at more cost.
 */
function deliveryOf(msg: JsMsg): DeliveryInfo | undefined {
  const reply = (msg as { reply?: unknown }).reply;
  if (typeof reply === 'string') return deliveryInfoOf(reply);
  try {
    const { streamSequence, deliveryCount } = msg.info;
    return { sequence: streamSequence, deliveryCount };
  } catch {
    return undefined;
  }
}

/**
 * Reads one subscription's durable consumer and hands each event to its handler. Each event is checked as a
 * brokerless delivery is: it decodes and is valid, its publisher is the one NATS enforced (the subject's token;
 * another publisher named inside is a forgery), it is not from a revoked identity, and its topic matches.
 *
 * Outcomes: an ack acknowledges the message; a retry of an event without a key is a NAK with the delay, so
 * JetStream redelivers it later; a drop, or a failure on the last attempt, stores the event on
 * `dead-letter.<topic>` with the reason and terminates the message. Events with a key go one at a time per key in
 * stream order, and their retries happen here (the message's ack deadline extended meanwhile), so a later event
 * of the key never overtakes a redelivered one. Every held message's deadline is extended while it waits, and a
 * message redelivered while held (an extension that came too late) is not handled twice.
 */
export class ConsumerRunner {
  private readonly held = new Map<number, Held>();
  /** Events by ordering key: the first is being handled (or retried), the rest wait in stream order. */
  private readonly keys = new Map<string, Held[]>();
  private readonly refusals: ThrottledLog;
  /** The subscription's key in the agent's subscription set. */
  private readonly key: string;
  /** The last acknowledged stream sequence of each ordering key seen lately. */
  private readonly lastAcked = new Map<string, number>();
  private messages: ConsumerMessages | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;
  private draining = false;
  private idle: (() => void) | undefined;

  constructor(private readonly options: ConsumerRunnerOptions) {
    this.refusals = new ThrottledLog({ logger: options.logger, message: 'event refused' });
    this.key = subscriptionKey(options.subscription);
  }

  get consumer(): string {
    return this.options.consumer;
  }

  /** Reads the consumer until stopped, resuming after errors with a backoff. */
  start(): void {
    this.heartbeat = setInterval(
      () => {
        for (const held of this.held.values()) held.msg.working();
      },
      Math.max(500, this.options.ackWaitMs / 3),
    );
    this.heartbeat.unref();
    void this.loop();
  }

  private async loop(): Promise<void> {
    const backoff = new Backoff({ initialMs: 250, maxMs: 5_000 });
    const { subscription } = this.options;
    const maxMessages = subscription.maxInFlight || 64;
    while (!this.stopped && !this.draining) {
      try {
        const consumer = await this.options.js.consumers.get(this.options.stream, this.options.consumer);
        if (this.stopped || this.draining) return;
        // A callback rather than an async iterator: no promise per message.
        this.messages = await consumer.consume({
          max_messages: maxMessages,
          callback: (msg) => {
            try {
              this.receive(msg);
            } catch (error) {
              this.options.logger.error(
                { err: error, subject: msg.subject },
                'unexpected error reading an event',
              );
            }
          },
        });
        backoff.reset();
        const ended = await this.messages.closed();
        if (ended instanceof Error) throw ended;
      } catch (error) {
        if (this.stopped || this.draining) return;
        this.options.logger.warn(
          { err: error, consumer: this.options.consumer, pattern: subscription.pattern },
          'reading the event store failed; retrying',
        );
      }
      if (!this.stopped && !this.draining)
        await new Promise((resolve) => setTimeout(resolve, backoff.next()));
    }
  }

  private receive(msg: JsMsg): void {
    const info = deliveryOf(msg);
    if (!info) {
      // Nothing to answer it with: not a message of the consumer.
      this.refusals.warn({ consumer: this.options.consumer, subject: msg.subject, reason: 'not a delivery' });
      return;
    }
    const { sequence } = info;
    if (this.held.has(sequence)) return; // redelivered while held here: the one held answers for both
    const event = this.check(msg, info);
    if (typeof event === 'string') {
      this.refusals.warn({ consumer: this.options.consumer, sequence, reason: event });
      msg.term(event.slice(0, 200));
      return;
    }
    // A key's events are handled one at a time in stream order: one older than the last acknowledged of its key
    // was handled already (its ack was lost or late). A queue group's members see only part of a key: not there.
    if (event.key && !this.options.subscription.group && sequence <= (this.lastAcked.get(event.key) ?? 0)) {
      msg.ack();
      return;
    }
    const held: Held = { msg, sequence, event, attempt: event.attempt, released: false };
    if (held.attempt > this.options.maxDeliveries) {
      // The last delivery got no answer (its handler never finished: a crash): this extra one dead-letters it.
      void this.deadLetter(
        held,
        `no answer after ${this.options.maxDeliveries} deliveries`,
        this.options.maxDeliveries,
      );
    } else {
      const queue = event.key ? this.keys.get(event.key) : undefined;
      if (queue) queue.push(held);
      else {
        if (event.key) this.keys.set(event.key, [held]);
        this.run(held);
      }
    }
    // Held from now on unless answered already (a handler that returns at once): no map entry made for nothing.
    if (!held.released) this.held.set(sequence, held);
  }

  /**
   * The event of a message, checked, or why it is refused. What depends only on the message (its bytes decode to
   * a valid event, stored under its publisher's subject) is checked once per process for every consumer that
   * reads it (see `SubscriptionSet.checkEvent`); what depends on this subscription and the policies, every time.
   */
  private check(msg: JsMsg, info: DeliveryInfo): ReceivedEvent | string {
    const data = msg.data;
    const checked = this.options.subscriptions.checkEvent(
      Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    );
    const decoded = checked.event;
    if (!decoded) return checked.invalid ?? 'the event does not decode';
    // Read under its subject once for every consumer in the process that reads the message under the same one.
    const subject = msg.subject;
    const trustDomain = this.options.identity.spiffeId.trustDomain;
    let read = checked.stored;
    if (read?.subject !== subject || read.trustDomain !== trustDomain) {
      read = {
        subject,
        trustDomain,
        matches: new Map(),
        ...readStoredEvent(subject, decoded, checked.invalid, trustDomain),
      };
      checked.stored = read;
    }
    const stored = read.event;
    if (!stored) return read.refusal!;
    if (this.options.revoked(stored.publisher))
      return `${stored.publisher} is revoked by the mesh's policies`;
    const size = validatePayloadSize(
      stored.payload.length,
      this.options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    );
    if (!size.ok) return size.error.message;
    const { pattern, group } = this.options.subscription;
    let matches = read.matches.get(pattern);
    if (matches === undefined) {
      matches = matchesTopic(pattern, stored.topic);
      read.matches.set(pattern, matches);
    }
    if (!matches) return `topic ${stored.topic} does not match the subscription "${pattern}"`;
    return receivedEvent(stored, { attempt: info.deliveryCount, pattern, group });
  }

  private run(held: Held): void {
    held.event.attempt = held.attempt;
    const accepted = this.options.subscriptions.dispatch(this.key, held.event, this.settleHeld, held);
    // The subscription is gone from this agent: someone else's turn (or this agent's, once it is back).
    if (!accepted) this.release(held, 'nak', this.options.backoffMs);
  }

  /** {@link settle}, made once: the outcome of every dispatched event comes back through it. */
  private readonly settleHeld = (outcome: EventOutcome, held: Held) => this.settle(held, outcome);

  private settle(held: Held, outcome: EventOutcome): void {
    if (outcome.outcome === 'ack') {
      if (held.event.key) this.ackedKey(held.event.key, held.sequence);
      return this.release(held, 'ack');
    }
    if (outcome.outcome === 'drop') return void this.deadLetter(held, outcome.reason, held.attempt);
    const reason = outcome.reason ?? 'the handler asked for a retry';
    if (held.attempt >= this.options.maxDeliveries) return void this.deadLetter(held, reason, held.attempt);
    const delay = outcome.afterMs ?? this.backoff(held.attempt);
    if (!held.event.key) return this.release(held, 'nak', delay);
    // A keyed event is retried here, holding its key: a later event of the key must not overtake it.
    held.msg.working();
    held.timer = setTimeout(() => {
      held.timer = undefined;
      if (this.stopped) return;
      held.attempt += 1;
      this.run(held);
    }, delay);
  }

  /** Stores the dead letter, then terminates the message; when the store fails, it is redelivered later. */
  private async deadLetter(held: Held, reason: string, attempts: number): Promise<void> {
    const { event } = held;
    const { subscription } = this.options;
    this.options.logger.warn(
      { eventId: event.id, topic: event.topic, reason, attempts, consumer: this.options.consumer },
      'event dead-lettered',
    );
    if (event.topic.startsWith(`${DEAD_LETTER_PREFIX}.`)) {
      // A dead letter that fails is not dead-lettered again (no loop): it stays in the stream, terminated.
      return this.release(held, 'term', reason);
    }
    const me = this.options.identity.spiffeId.uri;
    const { attempt: _attempt, pattern: _pattern, group: _group, ...original } = event;
    const letter: MeshEvent = {
      ...original,
      // Stable per event and subscription, so a dead letter stored twice (a retry after a crash) is one event.
      id: `${event.id}~${this.options.consumer}`.slice(0, 256),
      topic: deadLetterTopic(event.topic),
      publisher: me,
      deadLetter: {
        originalEventId: event.id,
        originalTopic: event.topic,
        reason,
        attempts,
        subscriber: me,
        pattern: subscription.pattern,
        group: subscription.group,
        deadLetteredAt: Date.now(),
      },
    };
    try {
      await this.options.deadLetter(letter);
      this.release(held, 'term', reason);
    } catch (error) {
      if (error instanceof MeshError && error.code === Code.RESOURCE_EXHAUSTED) {
        // It will never fit: no point in a redelivery that fails the same way.
        this.options.logger.error(
          { err: error, eventId: event.id },
          'dead letter too large to store; dropped',
        );
        return this.release(held, 'term', reason);
      }
      this.options.logger.warn({ err: error, eventId: event.id }, 'dead letter not stored; redelivering');
      this.release(held, 'nak', this.backoff(attempts));
    }
  }

  /** Answers a held message and lets the next event of its key go. */
  private release(held: Held, answer: 'ack' | 'nak' | 'term', detail?: number | string): void {
    if (held.timer) clearTimeout(held.timer);
    held.released = true;
    this.held.delete(held.sequence);
    if (!this.stopped) {
      if (answer === 'ack') held.msg.ack();
      else if (answer === 'nak') held.msg.nak(detail as number);
      else held.msg.term(String(detail).slice(0, 200));
    }
    const key = held.event.key;
    if (key) {
      const queue = this.keys.get(key);
      if (queue && queue[0] === held) {
        queue.shift();
        const next = queue[0];
        if (next) this.run(next);
        else this.keys.delete(key);
      }
    }
    if (this.held.size === 0) this.idle?.();
  }

  /** Notes the last acknowledged sequence of a key (a bounded map: the oldest keys go first). */
  private ackedKey(key: string, sequence: number): void {
    this.lastAcked.delete(key);
    this.lastAcked.set(key, sequence);
    if (this.lastAcked.size > MAX_KEYS_REMEMBERED) {
      this.lastAcked.delete(this.lastAcked.keys().next().value!);
    }
  }

  private backoff(attempt: number): number {
    const step = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(step / 2 + (Math.random() * step) / 2);
  }

  /** Stops reading; resolves when every held event was answered (or after `timeoutMs`). */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    await this.messages?.close().catch(() => undefined);
    if (this.held.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Stops at once: what is held is redelivered by JetStream after its ack deadline. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.heartbeat);
    for (const held of this.held.values()) clearTimeout(held.timer);
    this.held.clear();
    this.keys.clear();
    this.refusals.close();
    void this.messages?.close().catch(() => undefined);
  }
}
