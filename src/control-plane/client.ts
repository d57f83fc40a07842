import type { ControlPlaneInfo__Output } from '../generated/agentmesh/v1/ControlPlaneInfo.js';
import type * as grpc from '@grpc/grpc-js';
import type { AgentRecord, AgentSpec, LoadReport } from '../core/agent-record.js';
import { Code, type MeshError } from '../core/errors.js';
import type { ConsumerStart, EventStoreGrant } from '../nats/grant.js';
import type { GetEventStoreResponse__Output } from '../generated/agentmesh/v1/GetEventStoreResponse.js';
import type { DescribeEventsResponse__Output } from '../generated/agentmesh/v1/DescribeEventsResponse.js';
import type { ListDeadLettersResponse__Output } from '../generated/agentmesh/v1/ListDeadLettersResponse.js';
import type { Event__Output } from '../generated/agentmesh/v1/Event.js';
import type { EventStoreDescription } from './event-store.js';
import type { PolicySet } from '../core/policy.js';
import type { Subscription } from '../core/subscription.js';
import { identitySpiffeId, CONTROL_PLANE_NAME } from '../core/spiffe-id.js';
import type { ControlPlaneClient as ControlPlaneStub } from '../generated/agentmesh/v1/ControlPlane.js';
import type { WatchEvent__Output } from '../generated/agentmesh/v1/WatchEvent.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { CONTROL_PLANE_CHANNEL_OPTIONS, createChannelCredentials } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { fromServiceError } from '../transport/status.js';
import { parseControlPlaneAddresses } from './addresses.js';
import type { CallReport } from './call-graph.js';
import { policiesFromWire, policiesToWire, recordFromWire } from './convert.js';
import { acrossReplicas, ReplicaSet, unreachable, type Replica } from './replica-set.js';
import {
  scopeToWire,
  watchFromWire,
  type WatchHandle,
  type WatchMessage,
  type WatchOptions,
} from './watch-message.js';

export type { WatchHandle, WatchMessage, WatchOptions } from './watch-message.js';
export { joinMesh, renewIdentity, type JoinOptions } from './identity-requests.js';

/** What a discovery asks for; `labelSelector` uses Kubernetes syntax. */
export interface DiscoverRequest {
  type?: string;
  capabilities?: string[];
  labelSelector?: string;
  includeUnhealthy?: boolean;
  /** Only agents offering the skill (tool) with this id, and a skill with this tag. */
  skill?: string;
  skillTag?: string;
}

/** A certificate the control plane signed. */
export interface SignedIdentity {
  certificatePem: string;
  spiffeId: string;
  trustBundlePem: string;
  expiresAt: number;
}

/** Options for {@link ControlPlaneClient}. */
export interface ControlPlaneClientOptions {
  /**
   * The control plane: `host:port`, or several replicas of it (a list, or one string `cp-a:7400,cp-b:7400`). The
   * client starts at a random one, so that a fleet spreads over the replicas, and moves to the next when its
   * replica cannot be reached.
   */
  address: string | readonly string[];
  /** Who we are: every call is mTLS with this identity. */
  identity: MeshIdentity;
  /** The control plane's SPIFFE ID (default `spiffe://<our trust domain>/control-plane`). */
  expectedServer?: string;
  /** Default deadline of unary calls (default 10 s). */
  timeoutMs?: number;
  /** Where losing and finding the control plane is logged (a few lines per outage; default: nowhere). */
  logger?: Logger;
  random?: () => number;
}

/** Options of one call to the control plane. */
export interface ControlPlaneCallOptions {
  /** The call's deadline in ms from now (default: the client's `timeoutMs`). */
  timeoutMs?: number;
}

/** A control-plane replica's description of itself ({@link ControlPlaneClient.getInfo}). */
export interface ControlPlaneInfo {
  version: string;
  /** The replica's clock (Unix ms) when it answered. */
  now: number;
  trustDomain: string;
  store: { kind: string; durable: boolean; ok: boolean; error?: string };
  agents: number;
  /** When the replica's own serving certificate expires (Unix ms). */
  certificateExpiresAt: number;
}

/**
 * A typed client of the control plane for agents and tools: every call over mTLS with the caller's identity,
 * checking that the server is the control plane; failures reject with a MeshError carrying the server's status.
 * Given several replicas, it uses one at a time and moves to the next when a call or the watch cannot reach it (a
 * unary call tries each replica once within its deadline). Reconnecting is the caller's loop: this client never
 * retries on its own beyond that, so a loop that backs off stays the only one.
 */
export class ControlPlaneClient {
  private readonly replicas: ReplicaSet<ControlPlaneStub>;
  private readonly timeoutMs: number;
  private readonly stopListening: () => void;
  private closed = false;

  /** @throws MeshError INVALID_ARGUMENT for a malformed address or address list. */
  constructor(options: ControlPlaneClientOptions) {
    const addresses = parseControlPlaneAddresses(options.address);
    if (!addresses.ok) throw addresses.error;
    const { protos } = loadMeshProtos();
    const expected =
      options.expectedServer ??
      identitySpiffeId(options.identity.spiffeId.trustDomain, CONTROL_PLANE_NAME).uri;
    this.replicas = new ReplicaSet({
      addresses: addresses.value,
      connect: (address) =>
        new protos.agentmesh.v1.ControlPlane(
          address,
          createChannelCredentials(options.identity, expected),
          CONTROL_PLANE_CHANNEL_OPTIONS,
        ),
      logger: options.logger ?? silentLogger(),
      random: options.random ?? Math.random,
    });
    // A renewed identity reaches only new connections: move to new ones, and let calls on the old ones finish.
    this.stopListening = options.identity.onUpdate(() => this.replicas.reconnect());
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The replica the next call goes to. */
  get address(): string {
    return this.replicas.current.address;
  }

  /** Whether the last call or watch failed to reach the control plane. */
  get unreachable(): boolean {
    return this.replicas.unreachable;
  }

  async register(
    spec: Partial<AgentSpec> & Pick<AgentSpec, 'type' | 'name' | 'endpoint'>,
    leaseTtlMs = 0,
    options: ControlPlaneCallOptions = {},
  ): Promise<{ record: AgentRecord; leaseTtlMs: number }> {
    const response = await this.unary<{
      agent: Parameters<typeof recordFromWire>[0] | null;
      leaseTtlMs: number | string;
    }>((stub, done, call) => stub.Register({ spec, leaseTtlMs }, call, done as never), options);
    return { record: recordFromWire(response.agent!), leaseTtlMs: Number(response.leaseTtlMs) };
  }

  /**
   * Renews the lease of `agentId` with its load and draining flag, and the calls it made since its previous
   * heartbeat (at most 256 reports; the control plane ignores malformed ones). Resolves to the lease's new end.
   */
  async heartbeat(
    agentId: string,
    load: LoadReport = { inFlight: 0, queueDepth: 0 },
    draining = false,
    calls: readonly CallReport[] = [],
    options: ControlPlaneCallOptions = {},
  ): Promise<number> {
    const response = await this.unary<{ leaseExpiresAtUnixMs: number }>(
      (stub, done, call) =>
        stub.Heartbeat({ agentId, load, draining, calls: [...calls] }, call, done as never),
      options,
    );
    return Number(response.leaseExpiresAtUnixMs);
  }

  async deregister(agentId: string, options: ControlPlaneCallOptions = {}): Promise<void> {
    await this.unary((stub, done, call) => stub.Deregister({ agentId }, call, done as never), options);
  }

  async getAgent(agentId: string): Promise<AgentRecord> {
    return recordFromWire(
      await this.unary((stub, done, call) => stub.GetAgent({ agentId }, call, done as never)),
    );
  }

  async discover(request: DiscoverRequest = {}): Promise<{ agents: AgentRecord[]; revision: number }> {
    const response = await this.unary<{ agents: Parameters<typeof recordFromWire>[0][]; revision: number }>(
      (stub, done, call) => stub.Discover(request, call, done as never),
    );
    return { agents: response.agents.map(recordFromWire), revision: Number(response.revision) };
  }

  /**
   * What the replica that answers says about itself: its version, clock, store and registry size. A control
   * plane that predates the call answers UNIMPLEMENTED.
   */
  async getInfo(): Promise<ControlPlaneInfo> {
    const info = await this.unary<ControlPlaneInfo__Output>((stub, done, call) =>
      stub.GetInfo({}, call, done as never),
    );
    return {
      version: info.version,
      now: Number(info.nowUnixMs),
      trustDomain: info.trustDomain,
      store: {
        kind: info.storeKind,
        durable: info.storeDurable,
        ok: info.storeOk,
        ...(info.storeError ? { error: info.storeError } : {}),
      },
      agents: info.agents,
      certificateExpiresAt: Number(info.certificateExpiresAtUnixMs),
    };
  }

  async getPolicies(): Promise<PolicySet> {
    return policiesFromWire(
      await this.unary((stub, done, call) => stub.GetPolicies({}, call, done as never)),
    );
  }

  async setPolicies(policies: PolicySet): Promise<PolicySet> {
    return policiesFromWire(
      await this.unary((stub, done, call) =>
        stub.SetPolicies(policiesToWire(policies, 0), call, done as never),
      ),
    );
  }

  /** Asks for a certificate for our own identity (renewal): only the CSR travels, the key stays here. */
  async signCertificate(csrPem: string, ttlMs = 0): Promise<SignedIdentity> {
    const response = await this.unary<{
      certificatePem: string;
      spiffeId: string;
      trustBundlePem: string[];
      expiresAtUnixMs: number;
    }>((stub, done, call) => stub.SignCertificate({ csrPem, ttlMs }, call, done as never));
    return {
      certificatePem: response.certificatePem,
      spiffeId: response.spiffeId,
      trustBundlePem: response.trustBundlePem.join(''),
      expiresAt: Number(response.expiresAtUnixMs),
    };
  }

  /**
   * Where the mesh's events are kept: `undefined` without an event store (brokerless: also the answer of a
   * control plane that predates the call), else the caller's grant for the NATS user key `userPublicKey`.
   */
  async getEventStore(request: {
    userPublicKey: string;
    starts?: readonly ConsumerStart[];
    /** The caller's subscriptions, as it registers them: each its policies allow gets its consumer. */
    subscriptions?: readonly Subscription[];
  }): Promise<EventStoreGrant | undefined> {
    let response: GetEventStoreResponse__Output;
    try {
      response = await this.unary<GetEventStoreResponse__Output>(
        (stub, done, call) =>
          stub.GetEventStore(
            {
              userPublicKey: request.userPublicKey,
              starts: (request.starts ?? []).map((start) => ({
                pattern: start.pattern,
                group: start.group,
                fromSequence: start.fromSequence ?? 0,
                fromUnixMs: start.fromTime ?? 0,
              })),
              subscriptions: (request.subscriptions ?? []).map((s) => ({
                pattern: s.pattern,
                group: s.group,
                maxInFlight: s.maxInFlight,
              })),
            },
            call,
            done as never,
          ),
        // Creating the consumers of many subscriptions on a cluster takes longer than a registry call.
        { timeoutMs: 30_000 },
      );
    } catch (error) {
      if ((error as MeshError).code === Code.UNIMPLEMENTED) return undefined;
      throw error;
    }
    if (response.mode !== 'EVENT_STORE_MODE_JETSTREAM') return undefined;
    return {
      servers: response.servers,
      serverIdentity: response.serverIdentity,
      userJwt: response.userJwt,
      expiresAt: Number(response.expiresAtUnixMs),
      inboxPrefix: response.inboxPrefix,
      stream: response.stream,
      subjectPrefix: response.subjectPrefix,
      consumers: response.consumers.map((c) => ({
        pattern: c.pattern,
        group: c.group,
        consumer: c.consumer,
      })),
      maxDeliveries: response.maxDeliveries,
      ackWaitMs: Number(response.ackWaitMs),
    };
  }

  /** The event store's stream, topics and consumers (administrators only; see `DescribeEvents`). */
  async describeEvents(): Promise<EventStoreDescription> {
    const r = await this.unary<DescribeEventsResponse__Output>((stub, done, call) =>
      stub.DescribeEvents({}, call, done as never),
    );
    return {
      stream: r.stream,
      messages: Number(r.messages),
      bytes: Number(r.bytes),
      firstSequence: Number(r.firstSequence),
      lastSequence: Number(r.lastSequence),
      replicas: r.replicas,
      leader: r.leader,
      topics: r.topics.map((t) => ({ topic: t.topic, messages: Number(t.messages) })),
      consumers: r.consumers.map((c) => ({
        consumer: c.consumer,
        pattern: c.pattern,
        group: c.group,
        subscribers: c.subscribers,
        pending: Number(c.pending),
        ackPending: Number(c.ackPending),
        redelivered: Number(c.redelivered),
        deliveredSequence: Number(c.deliveredSequence),
        ackFloorSequence: Number(c.ackFloorSequence),
      })),
    };
  }

  /** The newest dead letters in the event store, oldest first, as wire events (administrators only). */
  async listDeadLetters(
    request: { topic?: string; limit?: number } = {},
  ): Promise<Array<{ sequence: number; event: Event__Output }>> {
    const r = await this.unary<ListDeadLettersResponse__Output>((stub, done, call) =>
      stub.ListDeadLetters({ topic: request.topic ?? '', limit: request.limit ?? 0 }, call, done as never),
    );
    return r.deadLetters.flatMap((d) => (d.event ? [{ sequence: Number(d.sequence), event: d.event }] : []));
  }

  /** Publishes a dead letter's original event again (administrators only). */
  async replayDeadLetter(sequence: number): Promise<{ eventId: string; sequence: number; topic: string }> {
    const r = await this.unary<{ eventId: string; sequence: number; topic: string }>((stub, done, call) =>
      stub.ReplayDeadLetter({ sequence }, call, done as never),
    );
    return { eventId: r.eventId, sequence: Number(r.sequence), topic: r.topic };
  }

  /**
   * Opens a watch stream from `sinceRevision` (0 for a snapshot first) on the current replica. `onMessage` gets
   * every message; `onEnd` is called exactly once when the stream ends, with the error that ended it (grpc-js
   * reports most failures twice, as `error` and then `end`: only the first counts). Cancelling ends it without a
   * call. A stream that could not reach its replica moves the client to the next one.
   */
  watch(
    sinceRevision: number,
    onMessage: (message: WatchMessage) => void,
    onEnd?: (error?: Error) => void,
    options: WatchOptions = {},
  ): WatchHandle {
    const replica = this.replicas.current;
    const stream = this.replicas.stubOf(replica).Watch({
      sinceRevision,
      chunkedSnapshots: true,
      ...(options.scope ? { scope: scopeToWire(options.scope) } : {}),
    });
    // The pieces of a snapshot sent in several messages, until the last one.
    let pieces: WatchEvent__Output[] = [];
    let ended = false;
    let heard = false;
    const end = (error?: MeshError) => {
      if (ended) return;
      ended = true;
      if (error && unreachable(error) && !heard) this.replicas.failedAt(replica, error);
      onEnd?.(error);
    };
    stream.on('data', (event: WatchEvent__Output) => {
      if (ended) return;
      if (!heard) {
        heard = true;
        this.replicas.succeeded(replica);
      }
      if (event.kind === 'snapshot' && event.snapshot?.more) {
        pieces.push(event);
        return;
      }
      if (event.kind === 'snapshot' && pieces.length > 0) {
        const agents = [...pieces.flatMap((piece) => piece.snapshot!.agents), ...event.snapshot!.agents];
        pieces = [];
        onMessage(watchFromWire({ ...event, snapshot: { ...event.snapshot!, agents } }));
        return;
      }
      onMessage(watchFromWire(event));
    });
    stream.on('error', (error: grpc.ServiceError) => end(fromServiceError(error)));
    stream.on('end', () => end());
    return {
      cancel: () => {
        ended = true;
        stream.cancel();
      },
    };
  }

  /** Closes the channels to every replica; a call after this fails with FAILED_PRECONDITION. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopListening();
    this.replicas.close();
  }

  /** One unary call: on the current replica, then on each other one while the replica is unreachable. */
  private async unary<T>(
    start: (
      stub: ControlPlaneStub,
      done: (error: grpc.ServiceError | null, value?: T) => void,
      options: grpc.CallOptions,
    ) => void,
    options: ControlPlaneCallOptions = {},
  ): Promise<T> {
    const deadline = Date.now() + (options.timeoutMs ?? this.timeoutMs);
    return acrossReplicas(this.replicas.size, deadline, async (attemptDeadline) => {
      const replica: Replica<ControlPlaneStub> = this.replicas.current;
      const stub = this.replicas.stubOf(replica);
      try {
        const value = await new Promise<T>((resolve, reject) => {
          start(stub, (error, result) => (error ? reject(fromServiceError(error)) : resolve(result as T)), {
            deadline: attemptDeadline,
          });
        });
        this.replicas.succeeded(replica);
        return value;
      } catch (error) {
        const failure = error as MeshError;
        if (unreachable(failure)) this.replicas.failedAt(replica, failure);
        else this.replicas.succeeded(replica); // it answered, with a refusal
        throw failure;
      }
    });
  }
}
