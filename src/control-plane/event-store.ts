/**
 * The control plane's side of durable events on NATS JetStream: it owns the stream, creates the durable consumer of
 * every subscription its policies allow, and issues each identity its NATS credentials. Events themselves go
 * between agents and NATS, never through the control plane.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { createUser } from '@nats-io/jwt';
import type { NatsConnection } from '@nats-io/transport-node';
import { Backoff } from '../core/backoff.js';
import { Code, MeshError, quote } from '../core/errors.js';
import { parseSpiffeId } from '../core/spiffe-id.js';
import { authorize, type PolicySet } from '../core/policy.js';
import type { Subscription } from '../core/subscription.js';
import { validatePattern } from '../core/topic.js';
import type { Logger } from '../observability/logger.js';
import { connectToEventStore } from '../nats/nats-connection.js';
import { signNatsUser, type NatsAuthority } from '../nats/nats-accounts.js';
import { eventPermissions } from '../nats/permissions.js';
import {
  EVENT_STREAM,
  DEAD_LETTER_SUBJECT_PREFIX,
  EVENT_STREAM_SUBJECTS,
  EVENT_SUBJECT_PREFIX,
  consumerName,
  patternOfFilter,
  eventSubject,
  inboxPrefix,
  parseEventSubject,
  subscriptionFilter,
} from '../nats/subjects.js';
import type { AgentRecord } from '../core/agent-record.js';
import { randomUUID } from 'node:crypto';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import type { ConsumerStart, EventStoreGrant } from '../nats/grant.js';

export type { ConsumerStart, EventStoreGrant } from '../nats/grant.js';

/** Options of {@link EventStore}. */
export interface EventStoreOptions {
  /** NATS URLs of the cluster, e.g. `nats://127.0.0.1:4222`. */
  servers: readonly string[];
  authority: NatsAuthority;
  /** The control plane's identity: it connects with it, and it names the trust domain. */
  identity: MeshIdentity;
  /** The SPIFFE ID of the NATS servers' certificates (default `spiffe://<trust domain>/agent/nats`). */
  serverIdentity?: string;
  /** Replicas of the stream (default: the number of servers given, at most 3). */
  replicas?: number;
  /** How long events are kept (default 7 days). */
  maxAgeMs?: number;
  /** How long a publish's event id is remembered to drop a retried publish (default 2 minutes). */
  duplicateWindowMs?: number;
  /** Deliveries of an event to a subscription before it is dead-lettered (default 5). */
  maxDeliveries?: number;
  /** How long a delivery may go unacknowledged before it is delivered again (default 30 s). */
  ackWaitMs?: number;
  /** Lifetime of the NATS credentials issued (default 1 hour). */
  credentialTtlMs?: number;
  logger: Logger;
  clock?: { now(): number };
}

const NANOS_PER_MS = 1_000_000;
/** The name prefix of the control plane's own short-lived consumers (reading dead letters). */
const SCAN_PREFIX = 'scan-';

/** What `DescribeEvents` answers (see control_plane.proto). */
export interface EventStoreDescription {
  stream: string;
  messages: number;
  bytes: number;
  firstSequence: number;
  lastSequence: number;
  replicas: number;
  leader: string;
  topics: Array<{ topic: string; messages: number }>;
  consumers: Array<{
    consumer: string;
    pattern: string;
    group: string;
    subscribers: string[];
    pending: number;
    ackPending: number;
    redelivered: number;
    deliveredSequence: number;
    ackFloorSequence: number;
  }>;
}

export class EventStore {
  readonly servers: string[];
  readonly serverIdentity: string;
  readonly maxDeliveries: number;
  readonly ackWaitMs: number;
  private readonly ready: Promise<{ nc: NatsConnection; jsm: JetStreamManager; js: JetStreamClient }>;
  private closed = false;
  private nc: NatsConnection | undefined;

  constructor(private readonly options: EventStoreOptions) {
    if (options.servers.length === 0) throw new MeshError(Code.INVALID_ARGUMENT, 'no NATS server given');
    this.servers = [...options.servers];
    this.serverIdentity =
      options.serverIdentity ?? `spiffe://${options.identity.spiffeId.trustDomain}/agent/nats`;
    this.maxDeliveries = options.maxDeliveries ?? 5;
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
    this.ready = this.open();
    // Until it is ready, each request waits for it; a failure is logged here and reported to each request.
    this.ready.catch((error: unknown) => {
      if (!this.closed) options.logger.error({ err: error }, 'event store unavailable');
    });
  }

  /** Connects (waiting for a first server as long as it takes) and makes sure the stream exists. */
  private async open(): Promise<{ nc: NatsConnection; jsm: JetStreamManager; js: JetStreamClient }> {
    const admin = createUser();
    const adminJwt = await signNatsUser(this.options.authority, {
      name: this.options.identity.spiffeId.uri,
      publicKey: admin.getPublicKey(),
      permissions: { pub: { allow: ['>'], deny: [] }, sub: { allow: ['>'], deny: [] } },
      expiresAt: 0,
    });
    // Until a first server answers, tried again and again (a control plane may start before its NATS cluster).
    const backoff = new Backoff({ initialMs: 250, maxMs: 5_000 });
    let nc: NatsConnection | undefined;
    while (!nc) {
      if (this.closed) throw new MeshError(Code.UNAVAILABLE, 'the control plane is stopping');
      try {
        nc = await connectToEventStore({
          identity: this.options.identity,
          servers: this.servers,
          serverIdentity: this.serverIdentity,
          credentials: () => ({ jwt: adminJwt, seed: admin.getSeed() }),
          name: 'agent-mesh control plane',
        });
      } catch (error) {
        this.options.logger.warn(
          { err: error, servers: this.servers },
          'event store not reachable; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, backoff.next()));
      }
    }
    this.nc = nc;
    if (this.closed) await nc.close();
    const jsm = await jetstreamManager(nc);
    await this.ensureStream(jsm);
    this.options.logger.info(
      { servers: this.servers, stream: EVENT_STREAM },
      'event store ready (NATS JetStream)',
    );
    return { nc, jsm, js: jetstream(nc) };
  }

  /** Creates the stream unless it exists; a cluster still electing its leader is retried. */
  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.createStreamUnlessThere(jsm);
        return;
      } catch (error) {
        if (this.closed) throw error;
        if (attempt % 20 === 0 || (attempt === 1 && error instanceof MeshError)) {
          this.options.logger.warn({ err: error }, 'event stream not ready; retrying');
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private async createStreamUnlessThere(jsm: JetStreamManager): Promise<void> {
    try {
      await jsm.streams.info(EVENT_STREAM);
      return;
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound))
        throw error;
    }
    try {
      await jsm.streams.add({
        name: EVENT_STREAM,
        subjects: EVENT_STREAM_SUBJECTS,
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        num_replicas: this.options.replicas ?? Math.min(this.servers.length, 3),
        max_age: (this.options.maxAgeMs ?? 7 * 86_400_000) * NANOS_PER_MS,
        duplicate_window: (this.options.duplicateWindowMs ?? 120_000) * NANOS_PER_MS,
      });
    } catch (error) {
      // 10065: the subjects overlap with an existing stream's (nats-server's JSStreamSubjectOverlapErr).
      if (!(error instanceof JetStreamApiError && error.code === 10065)) throw error;
      // Most likely the stream of an earlier build, under the name it had then.
      const holder = await jsm.streams.find(`${EVENT_SUBJECT_PREFIX}.x.y`).catch(() => undefined);
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        `${holder ? `the stream ${holder}` : 'another stream'} on the NATS servers holds the mesh's subjects (${EVENT_STREAM_SUBJECTS.join(', ')}; AGENTMESH_EVENTS, say, is an earlier agent-mesh's stream): let its consumers catch up, then delete it (nats stream rm ${holder ?? '<name>'}) and the control plane creates ${EVENT_STREAM}`,
        { cause: error },
      );
    }
  }

  /**
   * Issues `caller` its credentials for `userPublicKey`, first creating the consumers of those of its
   * `subscriptions` the policies allow it (others get no consumer, so nothing to read).
   */
  async grant(
    caller: { uri: string; types: readonly string[] },
    policies: PolicySet,
    subscriptions: readonly Subscription[],
    request: { userPublicKey: string; starts: readonly ConsumerStart[] },
  ): Promise<EventStoreGrant> {
    // A publisher's subject token is its SPIFFE path alone, read back in this mesh's trust domain: an identity of
    // another (federated) domain would be read as this domain's agent of the same path.
    const trustDomain = this.options.identity.spiffeId.trustDomain;
    const callerDomain = parseSpiffeId(caller.uri);
    if (!callerDomain.ok || callerDomain.value.trustDomain !== trustDomain) {
      throw new MeshError(
        Code.PERMISSION_DENIED,
        `the event store serves identities of ${trustDomain} only, not ${quote(caller.uri)}: federated agents exchange events brokerless or through an agent of this domain`,
      );
    }
    try {
      return await this.grantNow(caller, policies, subscriptions, request);
    } catch (error) {
      if (error instanceof MeshError) throw error;
      throw new MeshError(
        Code.UNAVAILABLE,
        `the event store (NATS at ${this.servers.join(', ')}) did not answer: ${(error as Error).message}; try again`,
        { cause: error },
      );
    }
  }

  private async grantNow(
    caller: { uri: string; types: readonly string[] },
    policies: PolicySet,
    subscriptions: readonly Subscription[],
    request: { userPublicKey: string; starts: readonly ConsumerStart[] },
  ): Promise<EventStoreGrant> {
    const { jsm } = await this.available();
    const allowed = subscriptions.filter(
      (subscription) =>
        authorize(policies, {
          caller: caller.uri,
          callerTypes: caller.types,
          action: 'subscribe',
          pattern: subscription.pattern,
        }).allowed,
    );
    // All at once: each is a round of the cluster's consensus, and an agent may have 64.
    const consumers = await Promise.all(
      allowed.map(async (subscription) => {
        const consumer = consumerName(caller.uri, subscription);
        const start = request.starts.find(
          (s) => s.pattern === subscription.pattern && s.group === subscription.group,
        );
        await this.ensureConsumer(jsm, consumer, subscription, start);
        return { pattern: subscription.pattern, group: subscription.group, consumer };
      }),
    );
    const now = this.options.clock?.now() ?? Date.now();
    const expiresAt = now + (this.options.credentialTtlMs ?? 3_600_000);
    const userJwt = await signNatsUser(this.options.authority, {
      name: caller.uri,
      publicKey: request.userPublicKey,
      permissions: eventPermissions(policies, caller, consumers),
      expiresAt,
    });
    return {
      servers: this.servers,
      serverIdentity: this.serverIdentity,
      userJwt,
      expiresAt,
      inboxPrefix: inboxPrefix(caller.uri),
      stream: EVENT_STREAM,
      subjectPrefix: EVENT_SUBJECT_PREFIX,
      consumers,
      maxDeliveries: this.maxDeliveries,
      ackWaitMs: this.ackWaitMs,
    };
  }

  /** The stream's manager, for the operator's commands (topics, consumer lag, dead letters). */
  async manager(): Promise<JetStreamManager> {
    return (await this.available()).jsm;
  }

  /**
   * The stream, its topics and its consumers, each consumer with the registered subscribers it serves (`registry`:
   * the agents, whose subscriptions name their consumers).
   */
  async describe(registry: Iterable<AgentRecord>): Promise<EventStoreDescription> {
    const { jsm } = await this.available();
    const info = await jsm.streams.info(EVENT_STREAM, { subjects_filter: '>' });
    const topics = new Map<string, number>();
    for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
      const parsed = parseEventSubject(subject);
      if (parsed) topics.set(parsed.topic, (topics.get(parsed.topic) ?? 0) + count);
    }
    const owners = new Map<string, { group: string; subscribers: string[] }>();
    for (const record of registry) {
      for (const subscription of record.spec.subscriptions) {
        const name = consumerName(record.spiffeId, subscription);
        const owner = owners.get(name) ?? { group: subscription.group, subscribers: [] };
        owner.subscribers.push(record.spiffeId);
        owners.set(name, owner);
      }
    }
    const consumers: EventStoreDescription['consumers'] = [];
    for await (const consumer of jsm.consumers.list(EVENT_STREAM)) {
      const name = consumer.config.durable_name ?? consumer.name;
      if (name.startsWith(SCAN_PREFIX)) continue;
      const filter = consumer.config.filter_subject ?? '';
      consumers.push({
        consumer: name,
        pattern: patternOfFilter(filter) ?? filter,
        group: owners.get(name)?.group ?? (name.startsWith('g-') ? '?' : ''),
        subscribers: owners.get(name)?.subscribers ?? [],
        pending: consumer.num_pending,
        ackPending: consumer.num_ack_pending,
        redelivered: consumer.num_redelivered,
        deliveredSequence: consumer.delivered.stream_seq,
        ackFloorSequence: consumer.ack_floor.stream_seq,
      });
    }
    return {
      stream: EVENT_STREAM,
      messages: info.state.messages,
      bytes: info.state.bytes,
      firstSequence: info.state.first_seq,
      lastSequence: info.state.last_seq,
      replicas: info.config.num_replicas,
      leader: info.cluster?.leader ?? '',
      topics: [...topics]
        .map(([topic, messages]) => ({ topic, messages }))
        .sort((a, b) => a.topic.localeCompare(b.topic)),
      consumers,
    };
  }

  /**
   * The newest `limit` dead letters (of `topic`'s events, or of every topic), oldest first, read with a consumer
   * of its own that acknowledges nothing and is removed after (or, should the control plane stop, by NATS).
   */
  async deadLetters(topic: string, limit: number): Promise<Array<{ sequence: number; bytes: Uint8Array }>> {
    const { jsm, js } = await this.available();
    const filter = `${DEAD_LETTER_SUBJECT_PREFIX}.*.${topic || '>'}`;
    const name = `${SCAN_PREFIX}${randomUUID()}`;
    await jsm.consumers.add(EVENT_STREAM, {
      durable_name: name,
      ack_policy: AckPolicy.None,
      filter_subject: filter,
      deliver_policy: DeliverPolicy.All,
      inactive_threshold: 60_000 * NANOS_PER_MS,
    });
    const kept: Array<{ sequence: number; bytes: Uint8Array }> = [];
    try {
      const consumer = await js.consumers.get(EVENT_STREAM, name);
      for (;;) {
        const info = await consumer.info(true);
        if (info.num_pending === 0) break;
        // As many as are there (up to 500): a fetch for more would wait out its expiry for them.
        const batch = await consumer.fetch({ max_messages: Math.min(500, info.num_pending), expires: 5_000 });
        let got = 0;
        for await (const msg of batch) {
          got += 1;
          kept.push({ sequence: msg.seq, bytes: msg.data });
          if (kept.length > limit) kept.shift();
        }
        if (got === 0) break;
      }
    } finally {
      await jsm.consumers.delete(EVENT_STREAM, name).catch(() => undefined);
    }
    return kept;
  }

  /** The stored bytes and subject of the event at `sequence`; NOT_FOUND when there is none. */
  async storedEvent(sequence: number): Promise<{ subject: string; bytes: Uint8Array }> {
    const { jsm } = await this.available();
    try {
      const stored = await jsm.streams.getMessage(EVENT_STREAM, { seq: sequence });
      if (!stored) throw new MeshError(Code.NOT_FOUND, `no event at sequence ${sequence} of the stream`);
      return { subject: stored.subject, bytes: stored.data };
    } catch (error) {
      if (error instanceof MeshError) throw error;
      throw new MeshError(
        Code.NOT_FOUND,
        `no event at sequence ${sequence} of the stream: ${(error as Error).message}`,
      );
    }
  }

  /**
   * Stores `bytes` (an encoded event naming `publisher`) under that publisher's subject for `topic`: the control
   * plane's replay of a dead letter for an administrator. `messageId` keeps a retried replay from storing twice.
   */
  async storeAs(publisher: string, topic: string, bytes: Uint8Array, messageId: string): Promise<number> {
    const { js } = await this.available();
    const ack = await js.publish(eventSubject(publisher, topic), bytes, { msgID: messageId });
    return ack.seq;
  }

  private async available(): Promise<{ nc: NatsConnection; jsm: JetStreamManager; js: JetStreamClient }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new MeshError(
              Code.UNAVAILABLE,
              `the event store (NATS at ${this.servers.join(', ')}) is not reachable yet: try again`,
            ),
          ),
        // Within a client's usual 10 s deadline: it hears UNAVAILABLE from here rather than its own timeout.
        5_000,
      );
    });
    try {
      return await Promise.race([this.ready, timeout]);
    } catch (error) {
      if (error instanceof MeshError) throw error;
      throw new MeshError(Code.UNAVAILABLE, `the event store is unavailable: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Creates a subscription's durable consumer, or leaves the existing one (which keeps its place in the stream),
   * unless `start` asks for a beginning other than the existing consumer's: that one is replaced.
   */
  private async ensureConsumer(
    jsm: JetStreamManager,
    name: string,
    subscription: Subscription,
    start: ConsumerStart | undefined,
  ): Promise<void> {
    const config: Partial<ConsumerConfig> = {
      ...consumerConfig(name, subscription.pattern, this),
      ...deliverFrom(start),
    };
    let existing;
    try {
      existing = await jsm.consumers.info(EVENT_STREAM, name);
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound))
        throw error;
    }
    if (existing) {
      // Names are 64-bit hashes of what a caller chooses (its group and pattern): one that a crafted pair shares
      // with another subscription's consumer gets a refusal, never that consumer's events.
      if ((existing.config.filter_subject ?? '') !== config.filter_subject) {
        throw new MeshError(
          Code.FAILED_PRECONDITION,
          `the consumer ${name} of the subscription to ${quote(subscription.pattern)}${subscription.group ? ` in group ${quote(subscription.group)}` : ''} exists with another filter (${quote(existing.config.filter_subject ?? '')}): choose another group name`,
        );
      }
      const wanted = deliverFrom(start);
      const same =
        !start ||
        (existing.config.deliver_policy === wanted.deliver_policy &&
          (existing.config.opt_start_seq ?? 0) === (wanted.opt_start_seq ?? 0) &&
          (existing.config.opt_start_time ?? '') === (wanted.opt_start_time ?? ''));
      if (same) return;
      await jsm.consumers.delete(EVENT_STREAM, name);
      this.options.logger.info(
        { consumer: name, pattern: subscription.pattern },
        'consumer restarted from a new start',
      );
    }
    // Just after a NATS node died, the cluster may take seconds to place a new consumer: retried (adding the same
    // consumer twice is harmless), within the caller's patience.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await jsm.consumers.add(EVENT_STREAM, config);
        return;
      } catch (error) {
        const timedOut =
          /timeout/i.test((error as Error).message) || (error as Error).name === 'TimeoutError';
        if (!timedOut || attempt >= 3) throw error;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.nc?.close().catch(() => undefined);
  }
}

/**
 * The settings of the durable consumer `name` of a subscription to `pattern`, all but where it starts (the
 * control plane adds that): explicit acks, `ackWaitMs` before a redelivery, at most 1,000 unacknowledged.
 */
export function consumerConfig(
  name: string,
  pattern: string,
  limits: { ackWaitMs: number; maxDeliveries: number },
): Partial<ConsumerConfig> {
  return {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    ack_wait: limits.ackWaitMs * NANOS_PER_MS,
    // One delivery more than the attempts: the subscriber dead-letters an event it sees past the last attempt,
    // so an event whose handler never answered (a subscriber that crashed on it) is not stuck for ever.
    max_deliver: limits.maxDeliveries + 1,
    filter_subject: subscriptionFilter(pattern),
    max_ack_pending: 1_000,
  };
}

function deliverFrom(start: ConsumerStart | undefined): Partial<ConsumerConfig> {
  if (start?.fromSequence)
    return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start.fromSequence };
  if (start?.fromTime !== undefined) {
    return {
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(start.fromTime).toISOString(),
    };
  }
  return { deliver_policy: DeliverPolicy.New };
}

/** Checks the starts of a GetEventStore request: INVALID_ARGUMENT says which one is wrong. */
export function validateStarts(starts: readonly ConsumerStart[]): ConsumerStart[] {
  for (const start of starts) {
    const pattern = validatePattern(start.pattern);
    if (!pattern.ok) throw pattern.error;
    if (start.fromTime !== undefined && !(start.fromTime >= 0 && Number.isFinite(start.fromTime))) {
      throw new MeshError(Code.INVALID_ARGUMENT, `invalid start time for ${quote(start.pattern)}`);
    }
  }
  return [...starts];
}
