import type * as grpc from '@grpc/grpc-js';
import { runWithContext } from '../data-plane/call-context.js';
import { Code, MeshError } from '../errors.js';
import type { Ack } from '../generated/agentmesh/v1/Ack.js';
import type { AckBatch } from '../generated/agentmesh/v1/AckBatch.js';
import type { EventDelivery__Output } from '../generated/agentmesh/v1/EventDelivery.js';
import type { EventDeliveryBatch__Output } from '../generated/agentmesh/v1/EventDeliveryBatch.js';
import type { SpiffeId } from '../identity/spiffe-id.js';
import type { AgentInstruments } from '../observability/agent-metrics.js';
import type { Logger } from '../observability/logger.js';
import { SpanKind, endSpan, startSpan, traceparentOf, withSpan } from '../observability/tracing.js';
import { peerIdentity } from '../transport/credentials.js';
import type { MeshIdentity, VerifiedPeer } from '../transport/mesh-identity.js';
import { eventFromWire, type EventHandler, type EventOutcome, type ReceivedEvent } from './event.js';
import { DEFAULT_MAX_IN_FLIGHT, subscriptionKey, type Subscription } from './subscription.js';
import { matchesTopic } from './topic.js';

/** Options for {@link SubscriptionSet}. */
export interface SubscriptionSetOptions {
  identity: MeshIdentity;
  logger: Logger;
  /**
   * Whether `publisher` may publish to `topic` (the control plane's policies); a refusal names the reason.
   * Events the policies do not allow are refused, neither handled nor dead-lettered.
   */
  mayPublish?: (publisher: VerifiedPeer, topic: string) => string | undefined;
  /** Counts the answers given (Prometheus). */
  metrics?: Pick<AgentInstruments, 'eventHandled'>;
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
 * subscription of ours, from the verified publisher, allowed by the policies), handled inside the event's
 * propagated context, and answered with an Ack when its handler finishes. Acks go back in batches.
 */
export class SubscriptionSet {
  private readonly entries = new Map<string, Entry>();
  private running = 0;
  private idle: (() => void) | undefined;

  constructor(private readonly options: SubscriptionSetOptions) {}

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

  private receive(publisher: VerifiedPeer, delivery: EventDelivery__Output, answer: (ack: Ack) => void): void {
    const { deliveryId } = delivery;
    if (!delivery.event) return this.refuse(publisher, deliveryId, 'a delivery without an event', answer);
    const entry = this.entries.get(subscriptionKey(delivery));
    if (!entry) {
      const group = delivery.group ? ` in group "${delivery.group}"` : '';
      const reason = `this agent has no subscription to "${delivery.pattern}"${group}`;
      return this.refuse(publisher, deliveryId, reason, answer);
    }
    const event = eventFromWire(delivery.event);
    // The chain always ends with the verified publisher, as a call's ends with its verified caller: a publisher
    // cannot make the subscriber's logs name someone else.
    if (event.context.chain.at(-1) !== publisher.uri) event.context.chain.push(publisher.uri);
    if (event.publisher !== publisher.uri) {
      const reason = `the event names publisher "${event.publisher}" but was sent by "${publisher.uri}"`;
      return this.refuse(publisher, deliveryId, reason, answer);
    }
    const { pattern, group } = entry.subscription;
    if (!matchesTopic(pattern, event.topic)) {
      const reason = `topic "${event.topic}" does not match the subscription "${pattern}"`;
      return this.refuse(publisher, deliveryId, reason, answer);
    }
    const denied = this.options.mayPublish?.(publisher, event.topic);
    if (denied) return this.refuse(publisher, deliveryId, denied, answer);
    const job: Job = {
      entry,
      event: { ...event, attempt: delivery.attempt, pattern, group },
      deliveryId,
      answer,
    };
    if (entry.running < (entry.subscription.maxInFlight || DEFAULT_MAX_IN_FLIGHT)) void this.run(job);
    else entry.waiting.push(job);
  }

  private refuse(publisher: SpiffeId, deliveryId: string, reason: string, answer: (ack: Ack) => void): void {
    this.options.logger.warn({ publisher: publisher.uri, deliveryId, reason }, 'event refused');
    this.options.metrics?.eventHandled('refused');
    answer({ deliveryId, outcome: 'ACK_OUTCOME_REFUSED', reason });
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
