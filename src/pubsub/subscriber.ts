import type * as grpc from '@grpc/grpc-js';
import { runWithContext } from '../core/call-context.js';
import { Code, MeshError, quote, truncateInput } from '../core/errors.js';
import type { Ack } from '../generated/agentmesh/v1/Ack.js';
import type { AckBatch } from '../generated/agentmesh/v1/AckBatch.js';
import type { EventDelivery__Output } from '../generated/agentmesh/v1/EventDelivery.js';
import type { EventDeliveryBatch__Output } from '../generated/agentmesh/v1/EventDeliveryBatch.js';
import type { SpiffeId } from '../core/spiffe-id.js';
import type { AgentInstruments } from '../observability/agent-metrics.js';
import type { Logger } from '../observability/logger.js';
import { ThrottledLog } from '../observability/throttled-log.js';
import { SpanKind, endSpan, startSpan, traceparentOf, withSpan } from '../observability/tracing.js';
import { peerIdentity } from '../transport/credentials.js';
import type { MeshIdentity, VerifiedPeer } from '../transport/mesh-identity.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  eventFromWire,
  validateEvent,
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
}

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
  answer: (ack: Ack) => void;
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
  }

  /** Removes a subscription; says whether there was one. */
  remove(subscription: Pick<Subscription, 'pattern' | 'group'>): boolean {
    return this.entries.delete(subscriptionKey(subscription));
  }

  /** The subscriptions, as the agent registers them. */
  list(): Subscription[] {
    return [...this.entries.values()].map((entry) => entry.subscription);
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
  }

  /** Serves one `DeliverEvents` stream from a publisher. */
  serve(call: grpc.ServerDuplexStream<EventDeliveryBatch__Output, AckBatch>): void {
    let publisher: VerifiedPeer;
    try {
      publisher = peerIdentity(call, this.options.identity);
    } catch (error) {
      call.emit('error', { code: Code.UNAUTHENTICATED, details: (error as Error).message });
      return;
    }
    let acks: Ack[] = [];
    let open = true;
    const answer = (ack: Ack) => {
      if (!open) return;
      acks.push(ack);
      // Acks that finish in the same turn of the event loop travel together.
      if (acks.length === 1) setImmediate(flush);
    };
    const flush = () => {
      if (!open || acks.length === 0) return;
      const batch = acks;
      acks = [];
      call.write({ acks: batch });
    };
    call.on('data', (batch: EventDeliveryBatch__Output) => {
      for (const delivery of batch.deliveries) this.receive(publisher, delivery, answer);
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
    delivery: EventDelivery__Output,
    answer: (ack: Ack) => void,
  ): void {
    const accepted = this.check(publisher, delivery);
    if (typeof accepted === 'string') return this.refuse(publisher, delivery, accepted, answer);
    const { entry, event } = accepted;
    // The chain always ends with the verified publisher, as a call's ends with its verified caller: a publisher
    // cannot make the subscriber's logs name someone else.
    if (event.context.chain.at(-1) !== publisher.uri) event.context.chain.push(publisher.uri);
    const { pattern, group } = entry.subscription;
    const job: Job = {
      entry,
      event: { ...event, attempt: delivery.attempt, pattern, group },
      deliveryId: delivery.deliveryId,
      answer,
    };
    if (entry.running < (entry.subscription.maxInFlight || DEFAULT_MAX_IN_FLIGHT)) void this.run(job);
    else entry.waiting.push(job);
  }

  /** The subscription and event of a delivery that passes every check, or the reason it is refused. */
  private check(
    publisher: VerifiedPeer,
    delivery: EventDelivery__Output,
  ): { entry: Entry; event: MeshEvent } | string {
    if (!delivery.event) return 'a delivery without an event';
    const entry = this.entries.get(subscriptionKey(delivery));
    if (!entry) {
      const group = delivery.group ? ` in group ${quote(delivery.group)}` : '';
      return `this agent has no subscription to ${quote(delivery.pattern)}${group}`;
    }
    const event = eventFromWire(delivery.event);
    if (event.publisher !== publisher.uri) {
      return `the event names publisher ${quote(event.publisher)} but was sent by ${quote(publisher.uri)}`;
    }
    // What the publisher checks before it accepts an event, checked again: a peer with a mesh certificate can
    // call DeliverEvents without the publisher's library.
    const valid = validateEvent(event, this.options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
    if (!valid.ok) return valid.error.message;
    const { pattern } = entry.subscription;
    if (!matchesTopic(pattern, event.topic)) {
      return `topic ${quote(event.topic)} does not match the subscription "${pattern}"`;
    }
    const denied = this.options.mayPublish?.(publisher, event.topic);
    return denied ? denied : { entry, event };
  }

  private refuse(
    publisher: SpiffeId,
    delivery: EventDelivery__Output,
    reason: string,
    answer: (ack: Ack) => void,
  ): void {
    const bounded = truncateInput(reason, MAX_REASON);
    this.refusals.warn({
      publisher: publisher.uri,
      deliveryId: truncateInput(delivery.deliveryId),
      ...(delivery.event ? { eventId: truncateInput(delivery.event.id) } : {}),
      reason: bounded,
    });
    this.options.metrics?.eventHandled('refused');
    // The delivery id goes back as it came: the sender matches its acks by it.
    answer({ deliveryId: delivery.deliveryId, outcome: 'ACK_OUTCOME_REFUSED', reason: bounded });
  }

  /** Handles one delivery, answers it, and starts the next one waiting for its subscription. */
  private async run(job: Job): Promise<void> {
    const { entry } = job;
    entry.running += 1;
    this.running += 1;
    const { event } = job;
    const span = startSpan(SpanKind.CONSUMER, () => ({
      name: `process ${event.topic}`,
      attributes: {
        'messaging.system': 'agentmesh',
        'messaging.destination.name': event.topic,
        'messaging.operation.type': 'process',
        'messaging.message.id': event.id,
      },
      parentTraceparent: event.context.traceparent,
    }));
    // The handler's own calls and events continue the trace from the consumer span when it records.
    const traceparent = traceparentOf(span);
    if (traceparent) event.context = { ...event.context, traceparent };
    const outcome = await withSpan(span, () => this.handle(entry, event));
    endSpan(
      span,
      outcome.outcome === 'ack'
        ? undefined
        : new MeshError(Code.UNAVAILABLE, `${outcome.outcome}: ${outcome.reason ?? ''}`),
    );
    entry.running -= 1;
    this.running -= 1;
    const next = entry.waiting.shift();
    if (next) void this.run(next);
    if (this.running === 0) this.idle?.();
    this.options.metrics?.eventHandled(outcome.outcome);
    job.answer(
      outcome.outcome === 'ack'
        ? { deliveryId: job.deliveryId, outcome: 'ACK_OUTCOME_ACK' }
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
              reason: outcome.reason.slice(0, MAX_REASON),
            },
    );
  }

  /** Runs the handler in the event's context; a throw asks for a redelivery with the error as the reason. */
  private handle(entry: Entry, event: ReceivedEvent): Promise<EventOutcome> {
    // All of it in the event's context, the failure's log line too: it carries the trace id and the publisher.
    return runWithContext(event.context, async (): Promise<EventOutcome> => {
      try {
        return (await entry.handler(event)) ?? { outcome: 'ack' };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        this.options.logger.warn(
          { eventId: event.id, topic: event.topic, attempt: event.attempt, err: error },
          'event handler failed; the publisher will redeliver',
        );
        return { outcome: 'retry', reason: reason || 'the handler failed' };
      }
    });
  }
}
