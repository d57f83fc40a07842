import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { childContext, currentContext } from '../core/call-context.js';
import type { EndpointCache } from '../data-plane/endpoint-cache.js';
import { Code, MeshError } from '../core/errors.js';
import type { AckBatch__Output } from '../generated/agentmesh/v1/AckBatch.js';
import type { Ack__Output } from '../generated/agentmesh/v1/Ack.js';
import type { AgentRecord } from '../core/agent-record.js';
import type { AgentInstruments } from '../observability/agent-metrics.js';
import type { Logger } from '../observability/logger.js';
import { SpanKind, endSpan, startSpan, traceparentOf } from '../observability/tracing.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { encodeEvent, serializeDeliveryBatch, type EncodedDelivery } from './delivery-codec.js';
import {
  DEAD_LETTER_PREFIX,
  deadLetterTopic,
  eventToWire,
  validateEvent,
  type DeadLetterInfo,
  type MeshEvent,
  type PublishReport,
} from './event.js';
import { DEFAULT_MAX_IN_FLIGHT, subscriptionKey, type Subscription } from '../core/subscription.js';
import { matchesTopic } from '../core/topic.js';

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
  /** Deliveries held at once (queued or unacknowledged); publishing beyond it fails (default 1,000,000). */
  maxPending?: number;
  hopLimit?: number;
  /**
   * Whether this publisher may publish to `topic` under the control plane's policies; a refusal names the
   * reason. Subscribers check it too: this only fails early with a clear error.
   */
  mayPublish?: (topic: string) => string | undefined;
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
}

/** One subscription of one agent, as deliveries see it: where it lives and how much it takes at once. */
interface Slot {
  agentId: string;
  spiffeId: string;
  subscription: Subscription;
  inFlight: number;
  limit: number;
}

/** An event on its way to one route (an ungrouped subscription, or a queue group). */
interface Pending {
  event: MeshEvent;
  /** The event's protobuf encoding, made once for all its deliveries. */
  wire: Uint8Array;
  route: Route;
  attempt: number;
  deliveryId: string;
  slot: Slot | undefined;
  link: Link | undefined;
  ackDeadline: number;
  /** The instance that failed it last, avoided on the next attempt when the group has another. */
  avoid: string | undefined;
  lastFailure: string;
}

/** Where events go: one ungrouped subscription, or one queue group (one delivery per event). */
interface Route {
  key: string;
  group: string;
  /** For an ungrouped subscription: its agent and pattern. */
  agentId?: string;
  pattern?: string;
  /** Ready to send, in publish order. */
  ready: Pending[];
  readyHead: number;
  /** Ordering keys with an event in flight (or waiting to be retried), and the events queued behind each. */
  busyKeys: Map<string, Pending[]>;
  /** Members by topic, recomputed after registry changes. */
  members: Map<string, Slot[]>;
  /** Where the next search for a member starts: members with equal room take turns. */
  turn: number;
  scheduled: boolean;
}

const MAX_BATCH = 512;
const MAX_DEAD_LETTERS_KEPT = 1_000;

/**
 * Publishes events and delivers them to subscribers at least once, directly (no broker in between): routes come
 * from the subscriptions in the registry (fed by the control plane's watch), and each subscribing agent gets one
 * `DeliverEvents` stream carrying batched deliveries and acks. An event is held until every route acknowledges it;
 * failures and missing acks are retried with exponential backoff (in a queue group, on another member when there
 * is one), and after the last attempt the event goes to `dead-letter.<topic>` with the reason. Events with an
 * ordering key reach each route one at a time, in publish order.
 */
export class EventPublisher {
  private readonly routes = new Map<string, Route>();
  /** Routes by topic, recomputed after registry changes. */
  private readonly routing = new Map<string, Route[]>();
  private readonly slots = new Map<string, Slot>();
  private readonly links = new Map<string, Link>();
  private readonly waitingForAck = new Map<string, Pending>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly recentDeadLetters: MeshEvent[] = [];
  private readonly flushWaiters = new Set<() => void>();
  private readonly stopListening: () => void;
  private readonly sweeper: NodeJS.Timeout;
  private readonly counters = { published: 0, delivered: 0, retried: 0, deadLettered: 0, refused: 0 };
  private pending = 0;
  private nextDelivery = 0;
  private closed = false;

  constructor(private readonly options: PublisherOptions) {
    // A load report changes no subscription or address.
    this.stopListening = options.cache.onChange((change) => {
      if (change !== 'load') this.refresh();
    });
    const ackTimeout = options.ackTimeoutMs ?? 30_000;
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1_000, ackTimeout / 4)));
    this.sweeper.unref();
  }

  get stats(): PublisherStats {
    return { ...this.counters, pending: this.pending };
  }

  /** Dead letters that no subscription of their dead-letter topic received (the latest 1,000), oldest first. */
  get unclaimedDeadLetters(): readonly MeshEvent[] {
    return this.recentDeadLetters;
  }

  /**
   * Publishes an event to every subscription whose pattern matches `topic` (one member per queue group).
   * @throws MeshError INVALID_ARGUMENT for an invalid topic, RESOURCE_EXHAUSTED for an oversized payload or when
   *   too many deliveries are pending, PERMISSION_DENIED when the policies forbid publishing to the topic,
   *   FAILED_PRECONDITION when the event would exceed the hop limit (an event loop).
   */
  publish(topic: string, payload: Buffer | string | unknown, options: PublishOptions = {}): PublishReport {
    if (this.closed) throw new MeshError(Code.UNAVAILABLE, 'the publisher is closed');
    const body = encodePayload(payload, options.contentType);
    const id = options.eventId || randomUUID();
    // The checks every subscriber makes again on arrival: failing here says so before anything is sent.
    const valid = validateEvent(
      { id, topic, payload: body.payload, key: options.key ?? '', contentType: body.contentType },
      this.options.maxPayloadBytes,
    );
    if (!valid.ok) throw valid.error;
    const denied = this.options.mayPublish?.(topic);
    if (denied) throw new MeshError(Code.PERMISSION_DENIED, denied);
    const parent = currentContext() ?? { chain: [] };
    const context = childContext(this.options.identity.spiffeId.uri, parent, this.options.hopLimit);
    // A recorded producer span is the parent of every subscriber's consumer span.
    const span = startSpan(SpanKind.PRODUCER, () => ({
      name: `publish ${topic}`,
      attributes: {
        'messaging.system': 'agentmesh',
        'messaging.destination.name': topic,
        'messaging.operation.type': 'publish',
      },
      parentTraceparent: parent.traceparent,
    }));
    context.traceparent = traceparentOf(span) ?? context.traceparent;
    const event: MeshEvent = {
      id,
      topic,
      publisher: this.options.identity.spiffeId.uri,
      publishedAt: Date.now(),
      payload: body.payload,
      contentType: body.contentType,
      key: options.key ?? '',
      context,
    };
    span.setAttribute('messaging.message.id', event.id);
    let failure: MeshError | undefined;
    try {
      return this.route(event, this.routesFor(topic));
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
    const routes = this.routesFor(info.originalTopic).filter((route) =>
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
    if (this.pending === 0) return true;
    return new Promise<boolean>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.flushWaiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.flushWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.flushWaiters.add(done);
    });
  }

  close(): void {
    this.closed = true;
    this.stopListening();
    clearInterval(this.sweeper);
    for (const timer of this.retryTimers) clearTimeout(timer);
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }

  private route(event: MeshEvent, routes: Route[]): PublishReport {
    if (this.pending + routes.length > (this.options.maxPending ?? 1_000_000)) {
      throw new MeshError(
        Code.RESOURCE_EXHAUSTED,
        `${this.pending} deliveries are pending, the most this publisher holds; publish again when subscribers catch up`,
      );
    }
    const wire = encodeEvent(eventToWire(event));
    let subscriptions = 0;
    let groups = 0;
    for (const route of routes) {
      if (route.group) groups += 1;
      else subscriptions += 1;
      this.pending += 1;
      this.enqueue({
        event,
        wire,
        route,
        attempt: 0,
        deliveryId: '',
        slot: undefined,
        link: undefined,
        ackDeadline: 0,
        avoid: undefined,
        lastFailure: '',
      });
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

  /** Queues an event for its route; an ordering key already in flight makes it wait behind that event. */
  private enqueue(pending: Pending): void {
    const route = pending.route;
    const key = pending.event.key;
    if (key) {
      const queued = route.busyKeys.get(key);
      if (queued) {
        queued.push(pending);
        return;
      }
      route.busyKeys.set(key, []);
    }
    route.ready.push(pending);
    this.schedule(route);
  }

  private schedule(route: Route): void {
    if (route.scheduled) return;
    route.scheduled = true;
    queueMicrotask(() => {
      route.scheduled = false;
      this.pump(route);
    });
  }

  /** Sends a route's ready events while its members have room, oldest first. */
  private pump(route: Route): void {
    while (route.readyHead < route.ready.length) {
      const pending = route.ready[route.readyHead]!;
      const members = this.membersOf(route, pending.event.topic);
      if (members.length === 0) {
        route.readyHead += 1;
        this.deadLetter(pending, pending.lastFailure || 'the subscription left the mesh before delivery');
        continue;
      }
      const slot = pickSlot(members, pending.avoid, route.turn++);
      if (!slot) break; // every member is at its limit: an ack will pump again
      route.readyHead += 1;
      this.send(pending, slot);
    }
    if (route.readyHead > 1024 && route.readyHead * 2 > route.ready.length) {
      route.ready = route.ready.slice(route.readyHead);
      route.readyHead = 0;
    }
  }

  private send(pending: Pending, slot: Slot): void {
    const record = this.options.cache.get(slot.agentId);
    if (!record) {
      this.fail(pending, 'the subscriber left the mesh', false);
      return;
    }
    const link = this.linkFor(record);
    pending.attempt += 1;
    pending.deliveryId = (this.nextDelivery++).toString(36);
    pending.slot = slot;
    pending.link = link;
    pending.ackDeadline = Date.now() + (this.options.ackTimeoutMs ?? 30_000);
    slot.inFlight += 1;
    this.waitingForAck.set(pending.deliveryId, pending);
    link.send({
      deliveryId: pending.deliveryId,
      attempt: pending.attempt,
      event: pending.wire,
      pattern: slot.subscription.pattern,
      group: slot.subscription.group,
    });
  }

  private onAck(ack: Ack__Output): void {
    const pending = this.waitingForAck.get(ack.deliveryId);
    if (!pending) return; // answered after a timeout already moved it on
    this.release(pending);
    switch (ack.outcome) {
      case 'ACK_OUTCOME_ACK':
        this.counters.delivered += 1;
        this.options.metrics?.eventDelivery('delivered');
        this.done(pending);
        break;
      case 'ACK_OUTCOME_DROP':
        this.deadLetter(pending, ack.reason || 'the subscriber dropped it');
        break;
      case 'ACK_OUTCOME_REFUSED':
        this.counters.refused += 1;
        this.options.metrics?.eventDelivery('refused');
        this.options.logger.warn(
          {
            eventId: pending.event.id,
            topic: pending.event.topic,
            subscriber: pending.slot?.agentId,
            reason: ack.reason,
          },
          'a subscriber refused an event',
        );
        this.done(pending);
        break;
      default:
        this.fail(
          pending,
          ack.reason || 'the subscriber asked for a retry',
          true,
          Number(ack.retryAfterMs) || 0,
        );
    }
  }

  /** Frees the slot a delivery held and stops waiting for its ack. */
  private release(pending: Pending): void {
    this.waitingForAck.delete(pending.deliveryId);
    if (pending.slot) {
      pending.slot.inFlight -= 1;
      this.schedule(pending.route);
    }
    pending.link = undefined;
  }

  /** A delivery failed: retry it after a backoff (on another member when possible), or dead-letter it. */
  private fail(pending: Pending, reason: string, reachedHandler: boolean, afterMs = 0): void {
    pending.lastFailure = reason;
    pending.avoid = pending.slot?.agentId;
    pending.slot = undefined;
    const maxAttempts = this.options.maxAttempts ?? 5;
    if (pending.attempt >= maxAttempts) {
      this.deadLetter(pending, `${reason} (after ${pending.attempt} attempts)`);
      return;
    }
    this.counters.retried += 1;
    this.options.metrics?.eventDelivery('retried');
    const base = this.options.backoffMs ?? 100;
    const cap = this.options.maxBackoffMs ?? 10_000;
    const exponential = Math.min(cap, base * 2 ** Math.max(0, pending.attempt - 1));
    const random = this.options.random ?? Math.random;
    // Equal jitter: at least half the backoff, so that retries never come back at once.
    const delay = afterMs > 0 ? afterMs : exponential / 2 + (random() * exponential) / 2;
    this.options.logger.debug(
      {
        eventId: pending.event.id,
        attempt: pending.attempt,
        reason,
        reachedHandler,
        retryInMs: Math.round(delay),
      },
      'event delivery will be retried',
    );
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (this.closed) return;
      // A retried event goes before the rest: it was published earlier.
      pending.route.ready.splice(pending.route.readyHead, 0, pending);
      this.schedule(pending.route);
    }, delay);
    this.retryTimers.add(timer);
  }

  /** The event is finished for its route: release the next event with its ordering key. */
  private done(pending: Pending): void {
    this.pending -= 1;
    const key = pending.event.key;
    if (key) {
      const queued = pending.route.busyKeys.get(key);
      const next = queued?.shift();
      if (next) {
        pending.route.ready.push(next);
        this.schedule(pending.route);
      } else {
        pending.route.busyKeys.delete(key);
      }
    }
    if (this.pending === 0) for (const waiter of [...this.flushWaiters]) waiter();
  }

  /** Sends the event to `dead-letter.<topic>` with the reason (or keeps it, when nobody subscribes there). */
  private deadLetter(pending: Pending, reason: string): void {
    this.counters.deadLettered += 1;
    this.options.metrics?.eventDelivery('dead_lettered');
    const original = pending.event;
    const slot = pending.slot;
    const subscriberId = slot?.spiffeId ?? this.routeSubscriber(pending.route);
    const info: DeadLetterInfo = {
      originalEventId: original.id,
      originalTopic: original.topic,
      reason,
      attempts: pending.attempt,
      subscriber: subscriberId,
      pattern: slot?.subscription.pattern ?? pending.route.pattern ?? '',
      group: pending.route.group,
      deadLetteredAt: Date.now(),
    };
    this.options.logger.warn({ eventId: original.id, topic: original.topic, ...info }, 'event dead-lettered');
    this.done(pending);
    if (original.topic.startsWith(`${DEAD_LETTER_PREFIX}.`)) {
      this.keepDeadLetter({ ...original, deadLetter: info });
      return; // a dead letter that fails is kept here, never dead-lettered again
    }
    const letter: MeshEvent = {
      ...original,
      id: randomUUID(),
      topic: deadLetterTopic(original.topic),
      publisher: this.options.identity.spiffeId.uri,
      deadLetter: info,
    };
    const routes = this.routesFor(letter.topic);
    if (routes.length === 0) this.keepDeadLetter(letter);
    else this.route(letter, routes);
  }

  private keepDeadLetter(letter: MeshEvent): void {
    this.recentDeadLetters.push(letter);
    if (this.recentDeadLetters.length > MAX_DEAD_LETTERS_KEPT) this.recentDeadLetters.shift();
  }

  private routeSubscriber(route: Route): string {
    return route.agentId ? (this.options.cache.get(route.agentId)?.spiffeId ?? route.agentId) : '';
  }

  /** Retries deliveries whose ack is overdue. */
  private sweep(): void {
    const now = Date.now();
    for (const pending of this.waitingForAck.values()) {
      if (pending.ackDeadline > now) continue;
      this.release(pending);
      this.fail(pending, `no acknowledgement within ${this.options.ackTimeoutMs ?? 30_000} ms`, true);
    }
  }

  /** The routes of a topic: each matching subscription without a group, and each group with a matching member. */
  private routesFor(topic: string): Route[] {
    const cached = this.routing.get(topic);
    if (cached) return cached;
    const found = new Map<string, Route>();
    for (const record of this.options.cache.all()) {
      if (record.health === 'draining') continue;
      for (const subscription of record.spec.subscriptions) {
        if (!matchesTopic(subscription.pattern, topic)) continue;
        const key = subscription.group
          ? `group|${subscription.group}`
          : `agent|${record.id}|${subscriptionKey(subscription)}`;
        if (found.has(key)) continue;
        found.set(
          key,
          this.routeFor(
            key,
            subscription.group,
            subscription.group ? undefined : record.id,
            subscription.pattern,
          ),
        );
      }
    }
    const routes = [...found.values()];
    this.routing.set(topic, routes);
    return routes;
  }

  private routeFor(key: string, group: string, agentId: string | undefined, pattern: string): Route {
    let route = this.routes.get(key);
    if (!route) {
      route = {
        key,
        group,
        ...(agentId !== undefined ? { agentId, pattern } : {}),
        ready: [],
        readyHead: 0,
        busyKeys: new Map(),
        members: new Map(),
        turn: 0,
        scheduled: false,
      };
      this.routes.set(key, route);
    }
    return route;
  }

  /** The slots an event of `topic` on `route` may go to: routable members whose pattern matches. */
  private membersOf(route: Route, topic: string): Slot[] {
    let members = route.members.get(topic);
    if (members) return members;
    members = [];
    const records = route.agentId
      ? [this.options.cache.get(route.agentId)].filter(isRecord)
      : this.options.cache.all();
    for (const record of records) {
      if (record.health === 'draining') continue;
      for (const subscription of record.spec.subscriptions) {
        if (subscription.group !== route.group || !matchesTopic(subscription.pattern, topic)) continue;
        if (route.agentId && subscriptionKey(subscription) !== `${route.pattern}|`) continue;
        members.push(this.slotFor(record, subscription));
        break; // one slot per agent and route
      }
    }
    // Healthy members first; unhealthy ones only when nothing else is left.
    const healthy = members.filter((slot) => this.options.cache.get(slot.agentId)?.health === 'healthy');
    members = healthy.length > 0 ? healthy : members;
    route.members.set(topic, members);
    return members;
  }

  private slotFor(record: AgentRecord, subscription: Subscription): Slot {
    const key = `${record.id}|${subscriptionKey(subscription)}`;
    let slot = this.slots.get(key);
    if (!slot || slot.spiffeId !== record.spiffeId) {
      slot = {
        agentId: record.id,
        spiffeId: record.spiffeId,
        subscription,
        inFlight: slot?.inFlight ?? 0,
        limit: subscription.maxInFlight || DEFAULT_MAX_IN_FLIGHT,
      };
      this.slots.set(key, slot);
    } else {
      slot.subscription = subscription;
      slot.limit = subscription.maxInFlight || DEFAULT_MAX_IN_FLIGHT;
    }
    return slot;
  }

  private linkFor(record: AgentRecord): Link {
    const existing = this.links.get(record.id);
    if (existing && existing.endpoint === record.spec.endpoint && existing.spiffeId === record.spiffeId) {
      return existing;
    }
    existing?.close();
    const link = new Link(record, this.options.identity, {
      onAcks: (batch) => {
        for (const ack of batch.acks) this.onAck(ack);
      },
      onBroken: (reason) => {
        // Everything sent over the link and not yet answered is lost with it (breaks are rare: a scan will do).
        for (const pending of [...this.waitingForAck.values()]) {
          if (pending.link !== link) continue;
          this.release(pending);
          this.fail(pending, reason, false);
        }
      },
    });
    this.links.set(record.id, link);
    return link;
  }

  /** After a registry change: recompute routes and members, and close links to agents that left. */
  private refresh(): void {
    this.routing.clear();
    for (const route of this.routes.values()) {
      route.members.clear();
      this.schedule(route);
    }
    for (const [id, link] of this.links) {
      const record = this.options.cache.get(id);
      if (!record || record.spec.endpoint !== link.endpoint || record.spiffeId !== link.spiffeId) {
        this.links.delete(id);
        link.close();
      }
    }
  }
}

function isRecord(record: AgentRecord | undefined): record is AgentRecord {
  return record !== undefined;
}

/**
 * The member with the most room (never `avoid` when another has room), or undefined when all are full. The search
 * starts at member `turn` (modulo their number), so that members with equal room take turns.
 */
function pickSlot(members: Slot[], avoid: string | undefined, turn: number): Slot | undefined {
  let best: Slot | undefined;
  let bestRoom = 0;
  let fallback: Slot | undefined;
  for (let i = 0; i < members.length; i += 1) {
    const slot = members[(turn + i) % members.length]!;
    const room = slot.limit - slot.inFlight;
    if (room <= 0) continue;
    if (slot.agentId === avoid && members.length > 1) {
      fallback = slot;
      continue;
    }
    if (room > bestRoom) {
      best = slot;
      bestRoom = room;
    }
  }
  return best ?? fallback;
}

function encodePayload(
  payload: unknown,
  contentType: string | undefined,
): { payload: Buffer; contentType: string } {
  if (Buffer.isBuffer(payload)) return { payload, contentType: contentType ?? 'application/octet-stream' };
  if (typeof payload === 'string')
    return { payload: Buffer.from(payload), contentType: contentType ?? 'text/plain' };
  return {
    payload: Buffer.from(JSON.stringify(payload ?? null)),
    contentType: contentType ?? 'application/json',
  };
}

/**
 * The delivery stream to one subscribing agent: deliveries are written in batches (those sent in the same turn
 * of the event loop travel together) and acks come back on the same stream. A broken stream is reported (the
 * publisher knows what it sent over this link); the next send opens a new one.
 */
class Link {
  readonly endpoint: string;
  readonly spiffeId: string;
  private readonly channel: grpc.Client;
  private stream: grpc.ClientDuplexStream<EncodedDelivery[], AckBatch__Output> | undefined;
  private outbox: EncodedDelivery[] = [];
  private flushing = false;

  constructor(
    record: AgentRecord,
    identity: MeshIdentity,
    private readonly handlers: {
      onAcks(batch: AckBatch__Output): void;
      onBroken(reason: string): void;
    },
  ) {
    this.endpoint = record.spec.endpoint;
    this.spiffeId = record.spiffeId;
    this.channel = new grpc.Client(
      record.spec.endpoint,
      createChannelCredentials(identity, record.spiffeId),
      MESH_CHANNEL_OPTIONS,
    );
  }

  send(delivery: EncodedDelivery): void {
    this.outbox.push(delivery);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  close(): void {
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.broken('the subscriber left the mesh');
    this.channel.close();
  }

  private flush(): void {
    this.flushing = false;
    const stream = this.stream ?? this.open();
    while (this.outbox.length > 0) {
      const batch = this.outbox.splice(0, MAX_BATCH);
      stream.write(batch);
    }
  }

  private open(): grpc.ClientDuplexStream<EncodedDelivery[], AckBatch__Output> {
    // Requests are written with the publisher's own serializer: each event is encoded once, not per delivery.
    const method = loadMeshProtos().protos.agentmesh.v1.Agent.service.DeliverEvents;
    const stream = this.channel.makeBidiStreamRequest(
      method.path,
      serializeDeliveryBatch,
      method.responseDeserialize,
    );
    this.stream = stream;
    stream.on('data', (batch: AckBatch__Output) => this.handlers.onAcks(batch));
    const ended = (reason: string) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.broken(reason);
    };
    stream.on('error', (error: grpc.ServiceError) =>
      ended(`delivery stream failed: ${error.details || error.message}`),
    );
    stream.on('end', () => ended('the subscriber closed the delivery stream'));
    return stream;
  }

  private broken(reason: string): void {
    this.outbox = [];
    this.handlers.onBroken(reason);
  }
}
