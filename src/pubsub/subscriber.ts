import type * as grpc from '@grpc/grpc-js';
import { runWithContext } from '../core/call-context.js';
import { Code, MeshError, quote, truncateInput } from '../core/errors.js';
import type { SpiffeId } from '../core/spiffe-id.js';
import type { AgentInstruments } from '../observability/agent-metrics.js';
import type { Logger } from '../observability/logger.js';
import { ThrottledLog } from '../observability/throttled-log.js';
import {
  SpanKind,
  endSpan,
  startSpan,
  traceparentOf,
  withSpan,
  type SpanDescription,
} from '../observability/tracing.js';
import { peerIdentity } from '../transport/credentials.js';
import type { MeshIdentity, VerifiedPeer } from '../transport/mesh-identity.js';
import { encodedAckSize, type AckAnswer, type WireDelivery } from '../transport/delivery-codec.js';
import { CheckedEvents, receivedEvent, type CheckedEvent } from './event-cache.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  validatePayloadSize,
  type EventHandler,
  type EventOutcome,
  type MeshEvent,
  type ReceivedEvent,
} from './event.js';
import { DEFAULT_MAX_IN_FLIGHT, subscriptionKey, type Subscription } from '../core/subscription.js';
import { matchesTopic } from '../core/topic.js';

/** Options for {@link SubscriptionSet}. */
export interface SubscriptionSetOptions {
  identity: MeshIdentity;
  logger: Logger;
  /**
   * Whether `publisher` may publish to `topic` (the control plane's policies); a refusal names the reason.
   * Events the policies do not allow are refused, neither handled nor dead-lettered.
   */
  mayPublish?: (publisher: VerifiedPeer, topic: string) => string | undefined;
  /**
   * Largest event payload taken (default {@link DEFAULT_MAX_PAYLOAD_BYTES}, the publisher's default); a larger one
   * is refused. The agent runtime uses its publisher's `maxPayloadBytes`, so one setting serves both directions.
   */
  maxPayloadBytes?: number;
  /** Counts the answers given (Prometheus). */
  metrics?: Pick<AgentInstruments, 'eventHandled'>;
  /** After a refusal is logged, further refusals wait this long and are logged as one count (default 10 s). */
  refusalLogPeriodMs?: number;
  /**
   * Where received events are decoded and checked once for all their deliveries: by default one cache for the
   * whole process, shared by every subscription set in it.
   */
  checkedEvents?: CheckedEvents;
}

/** The process's received events, decoded once however many subscriptions of however many agents receive them. */
const PROCESS_EVENTS = new CheckedEvents();
/**
 * Subscriptions in this process, over every subscription set: with one, no event arrives twice and keeping
 * events decoded would only cost.
 */
let subscriptionsInProcess = 0;

/** The most acks written in one `AckBatch`, and the most bytes (well within gRPC's 4 MiB message limit). */
const MAX_ACKS = 4_096;
const MAX_ACK_BYTES = 1024 * 1024;

interface Entry {
  subscription: Subscription;
  handler: EventHandler;
  running: number;
  /** Deliveries beyond max in flight, waiting their turn (a publisher keeps within it; this guards the agent). */
  waiting: Job[];
}

/** A delivery accepted for a subscription, to be handled and answered. */
interface Job {
  entry: Entry;
  event: ReceivedEvent;
  deliveryId: string;
  answer: (ack: AckAnswer) => void;
  /** For an event from the event store rather than a delivery stream: gets the outcome itself, with `ticket`. */
  settle?: (outcome: EventOutcome, ticket: unknown) => void;
  ticket?: unknown;
}

const MAX_REASON = 500;

/**
 * An agent's subscriptions and the receiving end of `Agent.DeliverEvents`: each delivery is checked (a
 * subscription of ours, from the verified publisher, an event the publisher would have accepted: id, topic and
 * payload size, a topic the subscription's pattern matches, allowed by the policies), handled inside the event's
 * propagated context, and answered with an Ack when its handler finishes. Acks go back in batches. A delivery that
 * fails a check is answered REFUSED with the reason, never reaches a handler, and leaves the rest of its batch and
 * the stream to go on; refusals are counted in the metrics and logged in bounded volume.
 */
export class SubscriptionSet {
  private readonly entries = new Map<string, Entry>();
  private readonly refusals: ThrottledLog;
  private running = 0;
  private closed = false;
  private idle: (() => void) | undefined;

  constructor(private readonly options: SubscriptionSetOptions) {
    this.refusals = new ThrottledLog({
      logger: options.logger,
      message: 'event refused',
      ...(options.refusalLogPeriodMs !== undefined ? { periodMs: options.refusalLogPeriodMs } : {}),
    });
  }

  /** Adds (or replaces the handler of) a subscription. */
  add(subscription: Subscription, handler: EventHandler): void {
    const key = subscriptionKey(subscription);
    const existing = this.entries.get(key);
    if (existing) {
      existing.subscription = subscription;
      existing.handler = handler;
      return;
    }
    this.entries.set(key, { subscription, handler, running: 0, waiting: [] });
    if (!this.closed) subscriptionsInProcess += 1;
  }

  /** Removes a subscription; says whether there was one. */
  remove(subscription: Pick<Subscription, 'pattern' | 'group'>): boolean {
    const removed = this.entries.delete(subscriptionKey(subscription));
    if (removed && !this.closed) subscriptionsInProcess -= 1;
    return removed;
  }

  /**
   * The decoded and checked event of `bytes` (see {@link CheckedEvents}): shared by every delivery of the same
   * bytes in this process while more than one subscription in it may receive them.
   */
  checkEvent(bytes: Buffer): CheckedEvent {
    return (this.options.checkedEvents ?? PROCESS_EVENTS).check(bytes, subscriptionsInProcess > 1);
  }

  /** The subscriptions, as the agent registers them. */
  list(): Subscription[] {
    return [...this.entries.values()].map((entry) => entry.subscription);
  }

  /**
   * Hands `event`, read from the event store by the subscription's consumer and checked there, to the handler of
   * the subscription of `key` (its `subscriptionKey`), as a delivery would be: in the event's context and a
   * consumer span, counted, within the subscription's max in flight. `settle` gets the handler's outcome and
   * `ticket` (so that a reader of many events needs no function per event). False when there is no such
   * subscription.
   */
  dispatch<T>(
    key: string,
    event: ReceivedEvent,
    settle: (outcome: EventOutcome, ticket: T) => void,
    ticket: T,
  ): boolean {
    const entry = this.entries.get(key);
    if (!entry || this.closed) return false;
    const job: Job = {
      entry,
      event,
      deliveryId: '',
      answer: NO_ANSWER,
      settle: settle as (outcome: EventOutcome, ticket: unknown) => void,
      ticket,
    };
    if (entry.running < (entry.subscription.maxInFlight || DEFAULT_MAX_IN_FLIGHT)) this.run(job);
    else entry.waiting.push(job);
    return true;
  }

  /** Resolves when no handler is running (for a drain), or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<void> {
    if (this.running === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Logs the refusals still counted (the agent is stopping). Streams being served are the server's to end. */
  close(): void {
    this.refusals.close();
    if (!this.closed) subscriptionsInProcess -= this.entries.size;
    this.closed = true;
  }

  /**
   * Serves one `DeliverEvents` stream from a publisher. Its messages come decoded by `decodeDeliveryBatch` (the
   * agent's service reads `DeliverEvents` with the codec of delivery-codec.ts), so each event is still bytes. Acks
   * go back in batches: one write at a time, and those that finish meanwhile go together when it drains, or at the
   * end of the turn when nothing is being written.
   */
  serve(call: grpc.ServerDuplexStream<WireDelivery[], AckAnswer[]>): void {
    let publisher: VerifiedPeer;
    try {
      publisher = peerIdentity(call, this.options.identity);
    } catch (error) {
      call.emit('error', { code: Code.UNAUTHENTICATED, details: (error as Error).message });
      return;
    }
    let acks: AckAnswer[] = [];
    let open = true;
    let writing = false;
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      if (!open || writing || acks.length === 0) return;
      let batch = acks;
      if (acks.length > 1) {
        let count = 0;
        let bytes = 0;
        while (count < acks.length && count < MAX_ACKS) {
          bytes += encodedAckSize(acks[count]!);
          if (bytes > MAX_ACK_BYTES && count > 0) break;
          count += 1;
        }
        if (count < acks.length) batch = acks.slice(0, count);
        acks = count < acks.length ? acks.slice(count) : [];
      } else {
        acks = [];
      }
      writing = true;
      call.write(batch, () => {
        writing = false;
        flush(); // the write drained: what finished meanwhile goes now
      });
    };
    const answer = (ack: AckAnswer) => {
      if (!open) return;
      acks.push(ack);
      if (!writing && !scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    };
    call.on('data', (batch: WireDelivery[]) => {
      // Policies are asked once per topic of a batch; they cannot change within one message.
      const refusals = new Map<string, string | undefined>();
      for (const delivery of batch) this.receive(publisher, delivery, answer, refusals);
    });
    const close = () => {
      if (!open) return;
      open = false;
      call.end();
    };
    call.on('end', close);
    call.on('error', () => (open = false));
    call.on('cancelled', () => (open = false));
  }

  private receive(
    publisher: VerifiedPeer,
    delivery: WireDelivery,
    answer: (ack: AckAnswer) => void,
    refusals: Map<string, string | undefined>,
  ): void {
    const accepted = this.check(publisher, delivery, refusals);
    if (typeof accepted === 'string') return this.refuse(publisher, delivery, accepted, answer);
    const { entry, checked } = accepted;
    const { pattern, group } = entry.subscription;
    const received = receivedEvent(checked, { attempt: delivery.attempt, pattern, group });
    // The chain always ends with the verified publisher, as a call's ends with its verified caller: a publisher
    // cannot make the subscriber's logs name someone else.
    if (received.context.chain.at(-1) !== publisher.uri) received.context.chain.push(publisher.uri);
    const job: Job = { entry, event: received, deliveryId: delivery.deliveryId, answer };
    if (entry.running < (entry.subscription.maxInFlight || DEFAULT_MAX_IN_FLIGHT)) this.run(job);
    else entry.waiting.push(job);
  }

  /** The subscription and event of a delivery that passes every check, or the reason it is refused. */
  private check(
    publisher: VerifiedPeer,
    delivery: WireDelivery,
    refusals: Map<string, string | undefined>,
  ): { entry: Entry; checked: MeshEvent } | string {
    if (!delivery.event) return 'a delivery without an event';
    const entry = this.entries.get(subscriptionKey(delivery));
    if (!entry) {
      const group = delivery.group ? ` in group ${quote(delivery.group)}` : '';
      return `this agent has no subscription to ${quote(delivery.pattern)}${group}`;
    }
    // Decoded and checked once per process for all deliveries of the same bytes (see CheckedEvents).
    const checked = this.checkEvent(delivery.event);
    const event = checked.event;
    if (!event) return checked.invalid!;
    if (event.publisher !== publisher.uri) {
      return `the event names publisher ${quote(event.publisher)} but was sent by ${quote(publisher.uri)}`;
    }
    // What the publisher checks before it accepts an event, checked again: a peer with a mesh certificate can
    // call DeliverEvents without the publisher's library.
    if (checked.invalid) return checked.invalid;
    const size = validatePayloadSize(
      event.payload.length,
      this.options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    );
    if (!size.ok) return size.error.message;
    const { pattern } = entry.subscription;
    let matches = checked.matches.get(pattern);
    if (matches === undefined) {
      matches = matchesTopic(pattern, event.topic);
      checked.matches.set(pattern, matches);
    }
    if (!matches) return `topic ${quote(event.topic)} does not match the subscription "${pattern}"`;
    const mayPublish = this.options.mayPublish;
    if (!mayPublish) return { entry, checked: event };
    let denied = refusals.get(event.topic);
    if (denied === undefined && !refusals.has(event.topic)) {
      denied = mayPublish(publisher, event.topic);
      refusals.set(event.topic, denied);
    }
    return denied ? denied : { entry, checked: event };
  }

  private refuse(
    publisher: SpiffeId,
    delivery: WireDelivery,
    reason: string,
    answer: (ack: AckAnswer) => void,
  ): void {
    const bounded = truncateInput(reason, MAX_REASON);
    const eventId = delivery.event ? this.checkEvent(delivery.event).event?.id : undefined;
    this.refusals.warn({
      publisher: publisher.uri,
      deliveryId: truncateInput(delivery.deliveryId),
      ...(eventId !== undefined ? { eventId: truncateInput(eventId) } : {}),
      reason: bounded,
    });
    this.options.metrics?.eventHandled('refused');
    // The delivery id goes back as it came: the sender matches its acks by it.
    answer({
      deliveryId: delivery.deliveryId,
      outcome: 'ACK_OUTCOME_REFUSED',
      retryAfterMs: 0,
      reason: bounded,
    });
  }

  /**
   * Handles one delivery and answers it, then starts the next one waiting for its subscription. A handler that
   * returns without a promise is answered at once, without a promise of ours either.
   */
  private run(job: Job): void {
    const { entry, event } = job;
    entry.running += 1;
    this.running += 1;
    const span = startSpan(SpanKind.CONSUMER, describeProcessing, event);
    // The handler's own calls and events continue the trace from the consumer span when it records.
    const traceparent = traceparentOf(span);
    if (traceparent) event.context = { ...event.context, traceparent };
    let result: EventOutcome | void | PromiseLike<EventOutcome | void>;
    try {
      result = traceparent
        ? withSpan(span, () => runWithContext(event.context, entry.handler, event))
        : runWithContext(event.context, entry.handler, event);
    } catch (error) {
      this.finish(job, span, this.failed(event, error));
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (outcome) => this.finish(job, span, outcome ?? ACK),
        (error: unknown) => this.finish(job, span, this.failed(event, error)),
      );
    } else {
      this.finish(job, span, result ?? ACK);
    }
  }

  private finish(job: Job, span: ReturnType<typeof startSpan>, outcome: EventOutcome): void {
    const { entry } = job;
    endSpan(
      span,
      outcome.outcome === 'ack'
        ? undefined
        : new MeshError(Code.UNAVAILABLE, `${outcome.outcome}: ${outcome.reason ?? ''}`),
    );
    entry.running -= 1;
    this.running -= 1;
    const next = entry.waiting.shift();
    // In a microtask: a run of handlers that finish at once must not nest one call deeper each.
    if (next) queueMicrotask(() => this.run(next));
    if (this.running === 0 && !next) this.idle?.();
    this.options.metrics?.eventHandled(outcome.outcome);
    if (job.settle) return job.settle(outcome, job.ticket);
    job.answer(
      outcome.outcome === 'ack'
        ? { deliveryId: job.deliveryId, outcome: 'ACK_OUTCOME_ACK', retryAfterMs: 0, reason: '' }
        : outcome.outcome === 'retry'
          ? {
              deliveryId: job.deliveryId,
              outcome: 'ACK_OUTCOME_RETRY',
              retryAfterMs: outcome.afterMs ?? 0,
              reason: (outcome.reason ?? '').slice(0, MAX_REASON),
            }
          : {
              deliveryId: job.deliveryId,
              outcome: 'ACK_OUTCOME_DROP',
              retryAfterMs: 0,
              reason: outcome.reason.slice(0, MAX_REASON),
            },
    );
  }

  /** A handler threw or rejected: logged in the event's context, and a redelivery asked for with the reason. */
  private failed(event: ReceivedEvent, error: unknown): EventOutcome {
    const reason = error instanceof Error ? error.message : String(error);
    // The failure's log line in the event's context: it carries the trace id and the publisher.
    runWithContext(event.context, () =>
      this.options.logger.warn(
        { eventId: event.id, topic: event.topic, attempt: event.attempt, err: error },
        'event handler failed; it will be redelivered',
      ),
    );
    return { outcome: 'retry', reason: reason || 'the handler failed' };
  }
}

const ACK: EventOutcome = { outcome: 'ack' };
const NO_ANSWER = () => undefined;

/** The consumer span of handling `event`. */
function describeProcessing(event: ReceivedEvent): SpanDescription {
  return {
    name: `process ${event.topic}`,
    attributes: {
      'messaging.system': 'agentmesh',
      'messaging.destination.name': event.topic,
      'messaging.operation.type': 'process',
      'messaging.message.id': event.id,
    },
    parentTraceparent: event.context.traceparent,
  };
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | undefined)?.then === 'function';
}
