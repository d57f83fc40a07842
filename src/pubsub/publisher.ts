import { Code, MeshError } from '../core/errors.js';
import type { EndpointCache } from '../data-plane/endpoint-cache.js';
import type { AgentInstruments } from '../observability/agent-metrics.js';
import type { Logger } from '../observability/logger.js';
import { endSpan } from '../observability/tracing.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { AbsentSubscribers, DEFAULT_ABSENT_RETENTION_MS } from './absent-subscribers.js';
import { DeadLetters } from './dead-letters.js';
import { encodeEvent } from '../transport/delivery-codec.js';
import { DeliveryLinks } from './delivery-link.js';
import { DeliveryQueue } from './delivery-queue.js';
import { newPending, type DeliveryOutcome, type Pending, type Route, type Slot } from './delivery-state.js';
import { EventRouting } from './event-routing.js';
import { eventToWire, type MeshEvent, type PublishReport } from './event.js';
import { prepareEvent } from './prepared-event.js';
import { Redelivery } from './redelivery.js';

/** Options for {@link EventPublisher}. */
export interface PublisherOptions {
  identity: MeshIdentity;
  cache: EndpointCache;
  logger: Logger;
  /** Delivery attempts per subscription before an event is dead-lettered (default 5). */
  maxAttempts?: number;
  /** How long a delivery may go unacknowledged before it is retried (default 30 s). */
  ackTimeoutMs?: number;
  /** First retry delay, doubling on each attempt up to `maxBackoffMs` (defaults 100 ms and 10 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Largest payload accepted (default `DEFAULT_MAX_PAYLOAD_BYTES`, 1 MiB; gRPC's default message limit is
   * 4 MiB). Subscribers refuse larger payloads by their own limit, the same by default.
   */
  maxPayloadBytes?: number;
  /**
   * Deliveries held at once (queued, unacknowledged, or waiting for an absent subscriber); a publish beyond it
   * fails with RESOURCE_EXHAUSTED (default `DEFAULT_MAX_PENDING`, 10,000). Each costs about 4.5 KB of memory
   * besides its payload.
   */
  maxPending?: number;
  /**
   * Payload bytes held at once, over all pending deliveries (an event routed to three subscriptions counts three
   * times); a publish beyond it fails with RESOURCE_EXHAUSTED (default `DEFAULT_MAX_PENDING_BYTES`, 64 MiB).
   */
  maxPendingBytes?: number;
  /**
   * How long deliveries wait for a subscriber that is absent (its link broke or cannot connect, or it left the
   * registry, e.g. while it restarts) before they are dead-lettered; waiting consumes no attempt (default 60 s).
   */
  absentRetentionMs?: number;
  hopLimit?: number;
  /**
   * Whether this publisher may publish to `topic` under the control plane's policies; a refusal names the
   * reason. Subscribers check it too: this only fails early with a clear error.
   */
  mayPublish?: (topic: string) => string | undefined;
  /**
   * The topics (or patterns) this publisher declared it publishes to: its cache follows only their subscribers, so
   * an event to another topic is refused rather than routed to none.
   */
  topics?: readonly string[];
  random?: () => number;
  /** Counts published events and finished deliveries (Prometheus). */
  metrics?: Pick<AgentInstruments, 'eventPublished' | 'eventDelivery'>;
}

/** Options of one publish. */
export interface PublishOptions {
  /** Ordering key: events with the same key reach each subscription in publish order. */
  key?: string;
  contentType?: string;
  /** An id of the publisher's choosing (e.g. to make a retried publish recognizable); a UUID by default. */
  eventId?: string;
}

/** Counters since the publisher started. */
export interface PublisherStats {
  published: number;
  delivered: number;
  retried: number;
  deadLettered: number;
  refused: number;
  pending: number;
  /** Of the pending deliveries, those held for a subscriber that is absent now (see `absentRetentionMs`). */
  held: number;
  /** `DeliverEvents` messages written, each carrying a batch of deliveries (fewer than deliveries when batching). */
  deliveryMessages: number;
  /** Ack messages received, each carrying a batch of acks. */
  ackMessages: number;
}

/** The default of `PublisherOptions.maxPending`. */
export const DEFAULT_MAX_PENDING = 10_000;

/** The default of `PublisherOptions.maxPendingBytes`: 64 MiB. */
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

/**
 * Publishes events and delivers them to subscribers at least once, directly (no broker in between): routes come
 * from the subscriptions in the registry (fed by the control plane's watch), and each subscribing agent gets one
 * `DeliverEvents` stream carrying batched deliveries and acks. An event is held until every route acknowledges it;
 * failures and missing acks are retried with exponential backoff (in a queue group, on another member when there
 * is one), and after the last attempt the event goes to `dead-letter.<topic>` with the reason. Events with an
 * ordering key reach each route one at a time, in publish order.
 *
 * A facade over the parts that do the work: {@link EventRouting} (routes and members from the registry),
 * {@link DeliveryQueue} (per-route queues, key order, the pending bound), {@link Redelivery} (acks, ack
 * deadlines, backoff), {@link DeadLetters} and {@link DeliveryLinks} (the `DeliverEvents` streams).
 */
export class EventPublisher {
  private readonly routing: EventRouting;
  private readonly queue: DeliveryQueue;
  private readonly redelivery: Redelivery;
  private readonly deadLetters: DeadLetters;
  private readonly absent: AbsentSubscribers;
  private readonly links: DeliveryLinks;
  private readonly stopListening: () => void;
  private readonly counters = {
    published: 0,
    delivered: 0,
    retried: 0,
    deadLettered: 0,
    refused: 0,
    deliveryMessages: 0,
    ackMessages: 0,
  };
  private closed = false;

  constructor(private readonly options: PublisherOptions) {
    const count = (outcome: DeliveryOutcome) => this.count(outcome);
    this.routing = new EventRouting(options.cache);
    const limits = {
      maxPending: options.maxPending ?? DEFAULT_MAX_PENDING,
      maxPendingBytes: options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES,
    };
    this.queue = new DeliveryQueue(limits, {
      membersOf: (route, topic) => this.routing.membersOf(route, topic),
      send: (pending, slot) => this.send(pending, slot),
      absent: (pending, reason) => this.onAbsent(pending, reason),
      unreachable: (agentId) => this.links.lost(agentId),
      holds: (route) => this.absent.holds(route),
      error: (error) => this.unexpected(error),
    });
    this.absent = new AbsentSubscribers({
      retentionMs: options.absentRetentionMs ?? DEFAULT_ABSENT_RETENTION_MS,
      backoffMs: options.backoffMs ?? 100,
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
      random: options.random ?? Math.random,
      requeue: (pending) => this.queue.requeue(pending),
      deadLetter: (pending, reason) => this.deadLetters.deadLetter(pending, reason),
    });
    this.deadLetters = new DeadLetters({
      identity: options.identity,
      logger: options.logger,
      done: (pending) => this.queue.done(pending),
      subscriberOf: (route) => this.routing.subscriberOf(route),
      routesFor: (topic) => this.routing.routesFor(topic),
      publish: (letter, routes) => this.route(letter, routes),
      count,
    });
    this.redelivery = new Redelivery({
      queue: this.queue,
      logger: options.logger,
      deadLetter: (pending, reason) => this.deadLetters.deadLetter(pending, reason),
      count,
      absent: (pending, reason) => this.onAbsent(pending, reason),
      seen: (pending) => this.absent.seen(pending.route),
      maxAttempts: options.maxAttempts,
      ackTimeoutMs: options.ackTimeoutMs,
      backoffMs: options.backoffMs,
      maxBackoffMs: options.maxBackoffMs,
      random: options.random,
    });
    this.links = new DeliveryLinks(options.identity, {
      onAcks: (acks) =>
        this.guard(() => {
          this.counters.ackMessages += 1;
          for (const ack of acks) this.redelivery.onAck(ack);
        }),
      onWritten: () => (this.counters.deliveryMessages += 1),
      onBroken: (link, reason) => this.guard(() => this.redelivery.linkBroken(link, reason)),
      wanted: (link, deliveryId) => this.redelivery.wanted(link, deliveryId),
    });
    // A load report changes no subscription or address.
    this.stopListening = options.cache.onChange((change) => {
      if (change !== 'load') this.guard(() => this.refresh());
    });
  }

  /** Counters since the publisher started, and the deliveries it holds now. */
  get stats(): PublisherStats {
    return { ...this.counters, pending: this.queue.pending, held: this.absent.size };
  }

  /** Dead letters that no subscription of their dead-letter topic received (the latest 1,000), oldest first. */
  get unclaimedDeadLetters(): readonly MeshEvent[] {
    return this.deadLetters.unclaimed;
  }

  /**
   * Publishes an event to every subscription whose pattern matches `topic` (one member per queue group).
   * @throws MeshError INVALID_ARGUMENT for an invalid topic, RESOURCE_EXHAUSTED for an oversized payload or when
   *   too many deliveries are pending, PERMISSION_DENIED when the policies forbid publishing to the topic,
   *   FAILED_PRECONDITION when the event would exceed the hop limit (an event loop).
   */
  publish(topic: string, payload: Buffer | string | unknown, options: PublishOptions = {}): PublishReport {
    if (this.closed) throw new MeshError(Code.UNAVAILABLE, 'the publisher is closed');
    const { event, span } = prepareEvent(this.options, topic, payload, options);
    let failure: MeshError | undefined;
    try {
      return this.route(event, this.routing.routesFor(topic));
    } catch (error) {
      failure = error instanceof MeshError ? error : undefined;
      throw error;
    } finally {
      endSpan(span, failure);
    }
  }

  /**
   * Delivers a dead-lettered event again to the subscription or group that could not handle it, under its
   * original id and topic. Returns UNAVAILABLE when that subscription or group is gone.
   */
  replay(deadLetter: MeshEvent): PublishReport {
    const info = deadLetter.deadLetter;
    if (!info) throw new MeshError(Code.INVALID_ARGUMENT, `event ${deadLetter.id} is not a dead letter`);
    const routes = this.routing
      .routesFor(info.originalTopic)
      .filter((route) =>
        info.group
          ? route.group === info.group
          : route.pattern === info.pattern &&
            this.options.cache.get(route.agentId!)?.spiffeId === info.subscriber,
      );
    if (routes.length === 0) {
      throw new MeshError(
        Code.UNAVAILABLE,
        `nothing to replay to: ${info.group ? `queue group "${info.group}"` : `"${info.subscriber}"`} no longer subscribes to ${info.originalTopic}`,
      );
    }
    const { deadLetter: _, ...rest } = deadLetter;
    return this.route(
      {
        ...rest,
        id: info.originalEventId,
        topic: info.originalTopic,
        publisher: this.options.identity.spiffeId.uri,
      },
      routes,
    );
  }

  /** Resolves true when every accepted event is acknowledged or dead-lettered, false after `timeoutMs`. */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    return this.queue.flush(timeoutMs);
  }

  /** Stops delivering: no more publishes, retries or sweeps; every delivery stream is closed. */
  close(): void {
    this.closed = true;
    this.stopListening();
    this.redelivery.close();
    this.absent.close();
    this.links.close();
  }

  /** Queues one delivery of `event` per route. */
  private route(event: MeshEvent, routes: Route[]): PublishReport {
    this.queue.admit(routes.length, event.payload.length);
    const wire = encodeEvent(eventToWire(event));
    let subscriptions = 0;
    let groups = 0;
    for (const route of routes) {
      if (route.group) groups += 1;
      else subscriptions += 1;
      this.queue.enqueue(newPending(event, wire, route));
    }
    this.counters.published += 1;
    this.options.metrics?.eventPublished();
    if (routes.length === 0) {
      this.options.logger.debug(
        { topic: event.topic, eventId: event.id },
        'no subscription matches the topic',
      );
    }
    return { eventId: event.id, accepted: true, subscriptions, groups };
  }

  /** Sends `pending` to the agent behind `slot`, over its link. */
  private send(pending: Pending, slot: Slot): void {
    const record = this.options.cache.get(slot.agentId);
    if (!record) {
      this.redelivery.lost(pending, 'the subscriber left the mesh', false);
      return;
    }
    this.redelivery.send(pending, slot, this.links.linkFor(record));
  }

  /**
   * A delivery found its subscriber absent: in a queue group with another reachable member it goes there now;
   * otherwise it is held for the subscriber's return (see {@link AbsentSubscribers}).
   */
  private onAbsent(pending: Pending, reason: string): void {
    if (this.closed) return;
    const route = pending.route;
    if (route.group) {
      const members = this.routing.membersOf(route, pending.event.topic);
      const elsewhere = members.some(
        (slot) =>
          slot.agentId !== pending.avoid &&
          this.options.cache.get(slot.agentId) !== undefined &&
          !this.links.lost(slot.agentId),
      );
      if (elsewhere) {
        pending.lastFailure = reason;
        this.count('retried'); // a redelivery, though not an attempt that counts toward maxAttempts
        this.queue.requeue(pending);
        return;
      }
    }
    this.absent.hold(pending, reason);
  }

  /** Runs work that a timer, a stream or a registry change started: an error is logged, never thrown there. */
  private guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.unexpected(error);
    }
  }

  private unexpected(error: unknown): void {
    this.options.logger.error({ err: error }, 'unexpected error in event delivery');
  }

  private count(outcome: DeliveryOutcome): void {
    if (outcome === 'dead_lettered') this.counters.deadLettered += 1;
    else this.counters[outcome] += 1;
    this.options.metrics?.eventDelivery(outcome);
  }

  /** After a registry change: recompute routes and members, and close links to agents that left. */
  private refresh(): void {
    for (const route of this.routing.invalidate()) this.queue.schedule(route);
    this.links.prune((id) => this.options.cache.get(id));
    // A subscriber may be back (a restart registers it again under its name, at a new address).
    this.absent.releaseAll();
  }
}
