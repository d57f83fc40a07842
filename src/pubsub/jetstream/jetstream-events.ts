/**
 * An agent's events on NATS JetStream, the durable mode: publishes are accepted once the stream stored them (the
 * PubAck), and each subscription reads its durable consumer, so neither a publisher's nor a subscriber's crash
 * loses an accepted event. Handlers, outcomes and dead letters mean what they mean brokerless.
 */
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { createUser } from '@nats-io/jwt';
import type { NatsConnection } from '@nats-io/transport-node';
import { Code, MeshError } from '../../core/errors.js';
import type { Subscription } from '../../core/subscription.js';
import { subscriptionKey } from '../../core/subscription.js';
import type { EndpointCache } from '../../data-plane/endpoint-cache.js';
import type { AgentInstruments } from '../../observability/agent-metrics.js';
import type { Logger } from '../../observability/logger.js';
import { endSpan } from '../../observability/tracing.js';
import type { MeshIdentity } from '../../transport/mesh-identity.js';
import { encodeEvent } from '../../transport/delivery-codec.js';
import type { MeshEvent, PublishReport } from '../event.js';
import { EventRouting } from '../event-routing.js';
import { prepareEvent, type PublishChecks } from '../prepared-event.js';
import type { PublishOptions } from '../publisher.js';
import type { SubscriptionSet } from '../subscriber.js';
import { ConsumerRunner } from './consumer-runner.js';
import { storedEventToWire } from './stored-event.js';
import type { ConsumerStart, EventStoreGrant } from '../../nats/grant.js';
import { connectToEventStore } from '../../nats/nats-connection.js';
import { eventSubject } from '../../nats/subjects.js';

/** How long one attempt of a publish waits for its PubAck before it is sent again (same message id). */
const PUBLISH_ATTEMPT_MS = 2_000;

/** A publish on JetStream also says where the stream stored the event. */
export interface DurablePublishReport extends PublishReport {
  /** The event's sequence in the stream. */
  sequence: number;
  /** True when the stream already had an event with this id (a retried publish): it was not stored twice. */
  duplicate: boolean;
}

/** Options of {@link JetStreamEvents}. */
export interface JetStreamEventsOptions extends PublishChecks {
  identity: MeshIdentity;
  logger: Logger;
  /** Asks the control plane for the store and this identity's credentials (ControlPlane.GetEventStore). */
  grant: (request: {
    userPublicKey: string;
    starts: readonly ConsumerStart[];
    subscriptions: readonly Subscription[];
  }) => Promise<EventStoreGrant | undefined>;
  /** The agent's subscriptions and their handlers. */
  subscriptions: SubscriptionSet;
  /** The agent's view of the registry: publish reports count the subscriptions an event is routed to. */
  cache: EndpointCache;
  /** Whether an identity is revoked by the policies: its events are refused. */
  revoked: (spiffeId: string) => boolean;
  /** Where new consumers of some subscriptions begin. */
  starts?: readonly ConsumerStart[];
  /** How long a publish waits for the stream's PubAck before it fails with UNAVAILABLE (default 10 s). */
  publishTimeoutMs?: number;
  /** First retry delay of a failed handler, doubling up to `maxBackoffMs` (defaults 100 ms and 10 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  metrics?: Pick<AgentInstruments, 'eventPublished'>;
}

/**
 * The JetStream mode of an agent's events: one NATS connection made with the identity's certificate and the
 * credentials the control plane issued, a publisher, and a {@link ConsumerRunner} per subscription. Credentials
 * are renewed before they expire and whenever the subscriptions or policies change, each time on a new
 * connection, so that NATS enforces the new permissions and expiry.
 */
export class JetStreamEvents {
  private readonly routing: EventRouting;
  private readonly runners = new Map<string, ConsumerRunner>();
  private renewal: NodeJS.Timeout | undefined;
  private readonly stopFollowingRegistry: () => void;
  private closed = false;

  private constructor(
    private readonly options: JetStreamEventsOptions,
    private current: EventStoreGrant,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly user: ReturnType<typeof createUser>,
  ) {
    this.routing = new EventRouting(options.cache);
    // The counts in publish reports follow the registry (a load report changes no subscription).
    this.stopFollowingRegistry = options.cache.onChange((change) => {
      if (change !== 'load') this.routing.invalidate();
    });
  }

  /**
   * Asks for credentials, connects, and starts reading every subscription's consumer; undefined when the mesh
   * has no event store (its events are brokerless).
   */
  static async start(options: JetStreamEventsOptions): Promise<JetStreamEvents | undefined> {
    const user = createUser();
    const first = await options.grant({
      userPublicKey: user.getPublicKey(),
      starts: options.starts ?? [],
      subscriptions: options.subscriptions.list(),
    });
    if (!first) return undefined;
    const started: { events?: JetStreamEvents } = {};
    let nc: NatsConnection;
    try {
      nc = await connectToEventStore({
        identity: options.identity,
        servers: first.servers,
        serverIdentity: first.serverIdentity,
        credentials: () => ({ jwt: (started.events?.current ?? first).userJwt, seed: user.getSeed() }),
        inboxPrefix: first.inboxPrefix,
        name: options.identity.spiffeId.uri,
      });
    } catch (error) {
      throw new MeshError(
        Code.UNAVAILABLE,
        `cannot reach the mesh's event store (NATS at ${first.servers.join(', ')}): ${(error as Error).message}`,
        { cause: error },
      );
    }
    const js = jetstream(nc, { timeout: options.publishTimeoutMs ?? 10_000 });
    const events = new JetStreamEvents(options, first, nc, js, user);
    started.events = events;
    events.sync();
    events.scheduleRenewal();
    return events;
  }

  /** The grant in force: servers, consumers, limits. */
  get grant(): EventStoreGrant {
    return this.current;
  }

  /**
   * Publishes an event: resolves once the stream stored it. A publish retried with the same `eventId` within the
   * stream's duplicate window is stored once (`duplicate` says so).
   * @throws MeshError as a brokerless publish does, and UNAVAILABLE when the stream did not confirm in time (the
   *   event may be stored: retry with the same `eventId`).
   */
  async publish(
    topic: string,
    payload: unknown,
    options: PublishOptions = {},
  ): Promise<DurablePublishReport> {
    if (this.closed) throw new MeshError(Code.UNAVAILABLE, 'the event publisher is closed');
    const { event, span } = prepareEvent(this.options, topic, payload, options);
    let failure: MeshError | undefined;
    try {
      const ack = await this.store(event);
      this.options.metrics?.eventPublished();
      let subscriptions = 0;
      let groups = 0;
      for (const route of this.routing.routesFor(topic)) {
        if (route.group) groups += 1;
        else subscriptions += 1;
      }
      return { eventId: event.id, accepted: true, subscriptions, groups, ...ack };
    } catch (error) {
      failure = MeshError.from(error);
      throw failure;
    } finally {
      endSpan(span, failure);
    }
  }

  /**
   * Stores an event under its publisher's subject (compact: see stored-event.ts), its id as the message id
   * (JetStream's deduplication).
   */
  async store(event: MeshEvent): Promise<{ sequence: number; duplicate: boolean }> {
    const subject = eventSubject(event.publisher, event.topic);
    const bytes = encodeEvent(storedEventToWire(event));
    const deadline = Date.now() + (this.options.publishTimeoutMs ?? 10_000);
    for (;;) {
      const left = deadline - Date.now();
      try {
        // Short attempts, each under the same message id (stored once however many reach the stream): a PubAck
        // lost to a reconnect (renewed credentials, a NATS node gone) costs one attempt, not the whole timeout.
        const ack = await this.js.publish(subject, bytes, {
          msgID: event.id,
          timeout: Math.max(100, Math.min(PUBLISH_ATTEMPT_MS, left)),
        });
        return { sequence: ack.seq, duplicate: ack.duplicate };
      } catch (error) {
        const message = (error as Error).message;
        if (/permission/i.test(message)) {
          throw new MeshError(
            Code.PERMISSION_DENIED,
            `the event store refused the publish to ${event.topic}: ${message} (the policies do not allow it)`,
            { cause: error },
          );
        }
        if (/max_payload/i.test(message)) {
          throw new MeshError(
            Code.RESOURCE_EXHAUSTED,
            `event ${event.id} is larger than the event store's NATS servers take (${message}): raise max_payload in their configuration, or send a reference to large data`,
            { cause: error },
          );
        }
        if (this.closed || Date.now() + 50 >= deadline) {
          throw new MeshError(
            Code.UNAVAILABLE,
            `the event store did not confirm event ${event.id} on ${event.topic}: ${message}; it may be stored: publish again with the same event id`,
            { cause: error },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /**
   * Asks for a new grant (the subscriptions, the policies or a start changed, or the credentials are due),
   * reconnects with it, and starts or stops consumer runners to match the subscriptions.
   */
  async refresh(starts: readonly ConsumerStart[] = []): Promise<void> {
    if (this.closed) return;
    const next = await this.options.grant({
      userPublicKey: this.user.getPublicKey(),
      starts,
      subscriptions: this.options.subscriptions.list(),
    });
    if (!next)
      throw new MeshError(Code.FAILED_PRECONDITION, 'the control plane no longer has an event store');
    const before = this.current;
    this.current = next;
    // NATS holds a connection to the credentials it was opened with (their permissions, and their expiry, when it
    // cuts the connection): new credentials take effect on a new connection.
    if (next.userJwt !== before.userJwt) await this.reconnect();
    this.sync();
    this.scheduleRenewal();
  }

  /**
   * Reconnects, so that NATS applies the new credentials' permissions, and resolves once the new connection is up
   * (or after 10 s): a consumer read before then would ask the old connection, whose permissions lack it.
   */
  private async reconnect(): Promise<void> {
    const statuses = this.nc.status()[Symbol.asyncIterator]();
    let timer: NodeJS.Timeout | undefined;
    const reconnected = (async () => {
      for (;;) {
        const next = await statuses.next();
        if (next.done || next.value.type === 'reconnect') return;
      }
    })();
    try {
      await this.nc.reconnect();
      await Promise.race([reconnected, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
    } finally {
      clearTimeout(timer);
      await statuses.return?.();
    }
  }

  /** Starts a runner for each consumer of the grant that has a subscription here, and stops the others. */
  private sync(): void {
    const wanted = new Map<string, EventStoreGrant['consumers'][number]>();
    for (const consumer of this.current.consumers) {
      wanted.set(subscriptionKey(consumer), consumer);
    }
    for (const [key, runner] of this.runners) {
      if (!wanted.has(key) || wanted.get(key)!.consumer !== runner.consumer) {
        runner.stop();
        this.runners.delete(key);
      }
    }
    const local = new Map(this.options.subscriptions.list().map((s) => [subscriptionKey(s), s]));
    for (const [key, consumer] of wanted) {
      const subscription = local.get(key);
      if (!subscription || this.runners.has(key)) continue;
      const runner = new ConsumerRunner({
        js: this.js,
        stream: this.current.stream,
        consumer: consumer.consumer,
        subscription,
        identity: this.options.identity,
        logger: this.options.logger,
        subscriptions: this.options.subscriptions,
        maxDeliveries: this.current.maxDeliveries,
        ackWaitMs: this.current.ackWaitMs,
        backoffMs: this.options.backoffMs ?? 100,
        maxBackoffMs: this.options.maxBackoffMs ?? 10_000,
        revoked: this.options.revoked,
        maxPayloadBytes: this.options.maxPayloadBytes,
        deadLetter: (letter) => this.store(letter),
      });
      this.runners.set(key, runner);
      runner.start();
    }
  }

  /** Renews the credentials when two thirds of their lifetime have passed. */
  private scheduleRenewal(): void {
    clearTimeout(this.renewal);
    if (this.closed) return;
    const delay = Math.max(1_000, ((this.current.expiresAt - Date.now()) * 2) / 3);
    this.renewal = setTimeout(
      () => {
        this.refresh().catch((error: unknown) => {
          this.options.logger.warn({ err: error }, 'event store credentials not renewed; retrying');
          this.renewal = setTimeout(() => this.scheduleRenewal(), 5_000);
          this.renewal.unref();
        });
      },
      Math.min(delay, 2_147_483_647),
    );
    this.renewal.unref();
  }

  /** Stops reading new events; resolves when the handlers running have finished (or after `timeoutMs`). */
  async drain(timeoutMs: number): Promise<void> {
    await Promise.all([...this.runners.values()].map((runner) => runner.drain(timeoutMs)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.renewal);
    this.stopFollowingRegistry();
    for (const runner of this.runners.values()) runner.stop();
    this.runners.clear();
    await this.nc.close().catch(() => undefined);
  }
}
