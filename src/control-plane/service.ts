import { MESH_VERSION } from '../core/version.js';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { Code, MeshError, quote } from '../core/errors.js';
import type { DeregisterRequest__Output } from '../generated/agentmesh/v1/DeregisterRequest.js';
import type { DiscoverRequest__Output } from '../generated/agentmesh/v1/DiscoverRequest.js';
import type { GetAgentRequest__Output } from '../generated/agentmesh/v1/GetAgentRequest.js';
import type { HeartbeatRequest__Output } from '../generated/agentmesh/v1/HeartbeatRequest.js';
import type { PolicySet__Output } from '../generated/agentmesh/v1/PolicySet.js';
import type { RegisterRequest__Output } from '../generated/agentmesh/v1/RegisterRequest.js';
import type { SignCertificateRequest__Output } from '../generated/agentmesh/v1/SignCertificateRequest.js';
import type { WatchEvent } from '../generated/agentmesh/v1/WatchEvent.js';
import type { WatchRequest__Output } from '../generated/agentmesh/v1/WatchRequest.js';
import { identityNameOf } from '../core/spiffe-id.js';
import { peerIdentity } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import type { ServiceRegistration } from '../transport/server.js';
import { admissionRefusal, toServiceError } from '../transport/status.js';
import type { CallReport } from './call-graph.js';
import {
  createCertificateSigner,
  type CertificateSignerOptions,
  type ControlPlaneCaller,
} from './certificate-signing.js';
import { policiesFromWire, policiesToWire, recordToWire, specFromWire } from './convert.js';
import { parseLabelSelector } from '../core/label-selector.js';
import { entitledTypes, isRevoked, revokedRefusal } from '../core/policy.js';
import { validateStarts, type EventStore } from './event-store.js';
import type { GetEventStoreRequest__Output } from '../generated/agentmesh/v1/GetEventStoreRequest.js';
import type { ListDeadLettersRequest__Output } from '../generated/agentmesh/v1/ListDeadLettersRequest.js';
import type { ReplayDeadLetterRequest__Output } from '../generated/agentmesh/v1/ReplayDeadLetterRequest.js';
import { validateTopic } from '../core/topic.js';
import { validateSubscriptions } from '../core/subscription.js';
import { deadLetterRefusal, parseEventSubject, publisherOfToken } from '../nats/subjects.js';
import { decodeEvent, encodeEvent } from '../transport/delivery-codec.js';
import { RequestLimiter, type RequestLimitSettings } from './request-limits.js';
import { observeSafely, type ControlPlaneServiceObserver } from './service-observer.js';
import { WatchStreams, type WatchStreamOptions } from './watch-stream.js';

export type { ControlPlaneServiceObserver } from './service-observer.js';

/** The path of the one method an agent without a certificate may call (with a join token). */
export const SIGN_CERTIFICATE_METHOD = '/agentmesh.v1.ControlPlane/SignCertificate';

/**
 * Options for {@link createControlPlaneService}: those of its watch streams and of its certificate signing (the CA
 * in force, the longest certificate), and the following.
 */
export interface ControlPlaneServiceOptions
  extends WatchStreamOptions, Omit<CertificateSignerOptions, 'clock' | 'limitRenewal'> {
  identity: MeshIdentity;
  /** SPIFFE IDs allowed to change policies, besides the control plane's own. */
  admins?: readonly string[];
  /** The event store (NATS JetStream) when events are durable; brokerless without it. */
  eventStore?: EventStore;
  /** Told about handled requests (metrics, dashboard). */
  observer?: ControlPlaneServiceObserver;
  /** Per-identity rate limits of Register, Heartbeat and renewals (default {@link DEFAULT_REQUEST_LIMITS}). */
  requestLimits?: Partial<RequestLimitSettings>;
  clock?: { now(): number };
  /** The registry's store, as `GetInfo` describes it: its kind, whether it is durable, and a read that proves it answers. */
  store?: StoreProbe;
}

/** What `GetInfo` says about the store, and how it checks that the store answers. */
export interface StoreProbe {
  kind: string;
  durable: boolean;
  /** Resolves when the store answered a read; rejects with why it did not. */
  probe(): Promise<void>;
}

/** How long `GetInfo` waits for the store's read before it says the store does not answer. */
const STORE_PROBE_TIMEOUT_MS = 2_000;

/**
 * Reads the store once for every caller that asks while a read is under way: `GetInfo` is open to every identity,
 * and a flood of it must not become a flood of store reads.
 */
function sharedProbe(store: StoreProbe): () => Promise<string | undefined> {
  let running: Promise<string | undefined> | undefined;
  return () => {
    running ??= probeStore(store).finally(() => (running = undefined));
    return running;
  };
}

async function probeStore(store: StoreProbe): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${STORE_PROBE_TIMEOUT_MS / 1_000}s`)),
      STORE_PROBE_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([store.probe(), timeout]);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    clearTimeout(timer);
  }
}

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

/**
 * The `agentmesh.v1.ControlPlane` gRPC service: translates wire messages to the registrar and state, and their
 * errors to statuses. Callers are authenticated by the transport; this decides what each identity may do.
 */
export function createControlPlaneService(options: ControlPlaneServiceOptions): ServiceRegistration {
  const { protos } = loadMeshProtos();
  const { state, registrar, logger } = options;
  const clock = options.clock ?? { now: () => Date.now() };
  const admins = new Set([options.identity.spiffeId.uri, ...(options.admins ?? [])]);
  const limiter = new RequestLimiter(options.requestLimits, clock);
  const probe = options.store ? sharedProbe(options.store) : undefined;
  /** Charges one request to the caller's rate; a refusal tells when to come back (the call never ran). */
  const limit = (method: keyof RequestLimitSettings, callerId: string) => {
    try {
      limiter.take(method, callerId);
    } catch (error) {
      throw admissionRefusal(error as MeshError);
    }
  };

  const observer = options.observer ?? {};
  const observe = (what: string, notify: () => void) => observeSafely(logger, what, notify);
  // Watch messages are encoded once by the fan-out and written as bytes; anything else is encoded here.
  const base = protos.agentmesh.v1.ControlPlane.service;
  const encodeWatch = base.Watch.responseSerialize as (event: WatchEvent) => Buffer;
  const definition: grpc.ServiceDefinition = {
    ...base,
    Watch: {
      ...base.Watch,
      responseSerialize: (message: Buffer | WatchEvent) =>
        Buffer.isBuffer(message) ? message : encodeWatch(message),
    },
  };
  const watches = new WatchStreams(options, encodeWatch);

  const unary =
    <Req, Res>(
      method: string,
      handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
    ): Unary<Req, Res> =>
    (call, callback) => {
      const started = process.hrtime.bigint();
      const finished = (code: number) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        if (observer.rpcFinished) observe('rpcFinished', () => observer.rpcFinished!(method, code, seconds));
      };
      refuseRevoked(call)
        .then(() => handler(call.request, call))
        .then(
          (response) => {
            finished(grpc.status.OK);
            callback(null, response);
          },
          (error: unknown) => {
            const status = toServiceError(error, logger);
            finished(status.code ?? grpc.status.UNKNOWN);
            callback(status);
          },
        );
    };

  /**
   * Refuses a caller the policies revoked, before any handler runs. A caller without a certificate (joining with a
   * token) has no identity to revoke yet; the token's agent name is checked where it is used.
   */
  const refuseRevoked = async (call: {
    getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
  }) => {
    const peer = options.identity.verifyCallPeer(call);
    if (peer.ok && isRevoked(state.policies, peer.value.uri)) throw revokedRefusal(peer.value.uri);
  };

  // An identity acts on a name only within our own trust domain: a federated domain's
  // spiffe://other.example/agent/payments is not our agent "payments".
  const caller = (call: grpc.ServerUnaryCall<unknown, unknown>): ControlPlaneCaller => {
    const id = peerIdentity(call, options.identity);
    const ours = id.trustDomain === options.identity.spiffeId.trustDomain;
    return { id: id.uri, name: ours ? identityNameOf(id) : undefined, agentTypes: id.agentTypes };
  };

  /** The event store, for an administrator's call; PERMISSION_DENIED for anyone else. */
  const administeredStore = (call: grpc.ServerUnaryCall<unknown, unknown>): EventStore => {
    const who = caller(call);
    if (!admins.has(who.id)) {
      throw new MeshError(
        Code.PERMISSION_DENIED,
        `${quote(who.id)} may not read or replay the event store: only the control plane and its administrators may`,
      );
    }
    if (!options.eventStore) {
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        'this mesh keeps no events (brokerless): start the control plane with --events to keep them on NATS JetStream',
      );
    }
    return options.eventStore;
  };

  const signCertificate = createCertificateSigner({
    ...options,
    clock,
    limitRenewal: (callerId) => limit('renewal', callerId),
  });

  const implementation = {
    Register: unary<RegisterRequest__Output, unknown>('Register', async (request, call) => {
      const who = caller(call);
      limit('register', who.id);
      const { record, ttlMs } = await registrar.register(
        who,
        specFromWire(request.spec),
        Number(request.leaseTtlMs),
      );
      if (observer.registered)
        observe('registered', () => observer.registered!(record, peerCertificateExpiry(call)));
      return { agent: recordToWire(record), leaseTtlMs: ttlMs };
    }),

    Heartbeat: unary<HeartbeatRequest__Output, unknown>('Heartbeat', async (request, call) => {
      const who = caller(call);
      limit('heartbeat', who.id);
      const load = { inFlight: request.load?.inFlight ?? 0, queueDepth: request.load?.queueDepth ?? 0 };
      const record = state.registry.get(request.agentId);
      const expiresAt = await registrar.heartbeat(who.name, request.agentId, load, request.draining);
      // The registrar checked that the caller owns the record, so the reports are the caller's own calls. They
      // are validated by the call graph: a malformed one is ignored, never a reason to fail the heartbeat.
      if (record && observer.heartbeat) {
        // The wire form has the domain form's fields; validation happens there, on at most 256 of them.
        const calls: readonly CallReport[] = request.calls ?? [];
        observe('heartbeat', () => observer.heartbeat!(record, calls, peerCertificateExpiry(call)));
      }
      return { leaseExpiresAtUnixMs: expiresAt };
    }),

    Deregister: unary<DeregisterRequest__Output, unknown>('Deregister', async (request, call) => {
      await registrar.deregister(caller(call).name, request.agentId);
      if (observer.deregistered) observe('deregistered', () => observer.deregistered!(request.agentId));
      return {};
    }),

    GetAgent: unary<GetAgentRequest__Output, unknown>('GetAgent', async (request) => {
      const record = state.registry.get(request.agentId);
      if (!record)
        throw new MeshError(Code.NOT_FOUND, `no agent "${request.agentId.slice(0, 100)}" is registered`);
      return recordToWire(record);
    }),

    Discover: unary<DiscoverRequest__Output, unknown>('Discover', async (request) => {
      const selector = parseLabelSelector(request.labelSelector);
      if (!selector.ok) throw selector.error;
      const agents = state.registry.discover({
        type: request.type,
        capabilities: request.capabilities,
        selector: selector.value,
        includeUnhealthy: request.includeUnhealthy,
        skill: request.skill,
        skillTag: request.skillTag,
      });
      return { agents: agents.map(recordToWire), revision: state.revision };
    }),

    GetInfo: unary<unknown, unknown>('GetInfo', async () => {
      const storeError = probe ? await probe() : undefined;
      return {
        version: MESH_VERSION,
        nowUnixMs: clock.now(),
        trustDomain: options.identity.spiffeId.trustDomain,
        storeKind: options.store?.kind ?? '',
        storeDurable: options.store?.durable ?? false,
        storeOk: options.store !== undefined && storeError === undefined,
        storeError: storeError ?? (options.store ? '' : 'not described by this control plane'),
        agents: state.registry.size,
        certificateExpiresAtUnixMs: options.identity.expiresAt,
      };
    }),

    GetPolicies: unary<unknown, unknown>('GetPolicies', async () =>
      policiesToWire(state.policies, state.policiesRevision),
    ),

    SetPolicies: unary<PolicySet__Output, unknown>('SetPolicies', async (request, call) => {
      const who = caller(call);
      if (!admins.has(who.id)) {
        throw new MeshError(
          Code.PERMISSION_DENIED,
          `${quote(who.id)} may not change policies: only the control plane and its administrators may`,
        );
      }
      const policies = policiesFromWire(request);
      // An administrator revoked would be locked out of the very call that could undo it.
      const locked = [...admins].find((admin) => isRevoked(policies, admin));
      if (locked !== undefined) {
        throw new MeshError(
          Code.INVALID_ARGUMENT,
          `invalid policies: revokedIdentities would revoke ${quote(locked)}, an administrator of this control plane; narrow the pattern`,
        );
      }
      const revision = await registrar.setPolicies(policies);
      logger.info(
        { by: who.id, rules: policies.rules.length, defaultEffect: policies.defaultEffect },
        'policies replaced',
      );
      return policiesToWire(policies, revision);
    }),

    SignCertificate: unary<SignCertificateRequest__Output, unknown>('SignCertificate', (request, call) =>
      signCertificate(request, () => caller(call)),
    ),

    GetEventStore: unary<GetEventStoreRequest__Output, unknown>('GetEventStore', async (request, call) => {
      const store = options.eventStore;
      if (!store) return { mode: 'EVENT_STORE_MODE_BROKERLESS' };
      const who = caller(call);
      if (!request.userPublicKey) {
        return {
          mode: 'EVENT_STORE_MODE_JETSTREAM',
          servers: store.servers,
          serverIdentity: store.serverIdentity,
        };
      }
      limit('register', who.id);
      const starts = validateStarts(
        request.starts.map((start) => ({
          pattern: start.pattern,
          group: start.group,
          ...(Number(start.fromSequence) > 0 ? { fromSequence: Number(start.fromSequence) } : {}),
          ...(Number(start.fromUnixMs) > 0 ? { fromTime: Number(start.fromUnixMs) } : {}),
        })),
      );
      // The caller's subscriptions, checked as a registration's are; the store authorizes each under today's
      // policies before it creates its consumer.
      const subscriptions = validateSubscriptions(
        request.subscriptions.map((s) => ({
          pattern: s.pattern,
          group: s.group,
          maxInFlight: s.maxInFlight,
        })),
      );
      if (!subscriptions.ok) throw subscriptions.error;
      const policies = state.policies;
      const types = entitledTypes(policies, { uri: who.id, agentTypes: who.agentTypes });
      const grant = await store.grant({ uri: who.id, types }, policies, subscriptions.value, {
        userPublicKey: request.userPublicKey,
        starts,
      });
      return { mode: 'EVENT_STORE_MODE_JETSTREAM', ...grant, expiresAtUnixMs: grant.expiresAt };
    }),

    DescribeEvents: unary<unknown, unknown>('DescribeEvents', async (_request, call) => {
      const store = administeredStore(call);
      const description = await store.describe(state.registry.all());
      return description;
    }),

    ListDeadLetters: unary<ListDeadLettersRequest__Output, unknown>(
      'ListDeadLetters',
      async (request, call) => {
        const store = administeredStore(call);
        if (request.topic) {
          const topic = validateTopic(request.topic);
          if (!topic.ok) throw topic.error;
        }
        const limit = Math.min(request.limit || 100, 1_000);
        const letters = await store.deadLetters(request.topic, limit);
        return {
          deadLetters: letters.map((letter) => ({
            sequence: letter.sequence,
            event: decodeEvent(Buffer.from(letter.bytes)),
          })),
        };
      },
    ),

    ReplayDeadLetter: unary<ReplayDeadLetterRequest__Output, unknown>(
      'ReplayDeadLetter',
      async (request, call) => {
        const store = administeredStore(call);
        const who = caller(call);
        const sequence = Number(request.sequence);
        const stored = await store.storedEvent(sequence);
        const letter = decodeEvent(Buffer.from(stored.bytes));
        const info = letter.deadLetter;
        const subject = parseEventSubject(stored.subject);
        if (!subject?.deadLetter || !info) {
          throw new MeshError(Code.NOT_FOUND, `the event at sequence ${sequence} is not a dead letter`);
        }
        // Replayed only as the subscriber that gave up on it reported it (see deadLetterRefusal): stored under its
        // own identity, which NATS enforces through the subject.
        const refusal =
          publisherOfToken(subject.token, options.identity.spiffeId.trustDomain) !== letter.publisher ||
          subject.topic !== letter.topic
            ? `it names publisher ${quote(letter.publisher)} and topic ${quote(letter.topic)}, not its subject's`
            : deadLetterRefusal(subject, letter);
        if (refusal) {
          throw new MeshError(
            Code.FAILED_PRECONDITION,
            `the dead letter at sequence ${sequence} was not stored by the subscriber it names (${quote(info.subscriber)}): ${refusal}; not replayed`,
          );
        }
        // The original event again, published by the administrator who replays it: its id stays the original's, so
        // handlers recognize it; the stream's message id is the replay's own, so the duplicate window keeps it.
        const replayed = {
          ...letter,
          id: info.originalEventId,
          topic: info.originalTopic,
          publisher: who.id,
          deadLetter: null,
        };
        const newSequence = await store.storeAs(
          who.id,
          replayed.topic,
          encodeEvent(replayed),
          `${info.originalEventId}~replay-${sequence}`,
        );
        logger.info(
          { by: who.id, sequence, eventId: replayed.id, topic: replayed.topic },
          'dead letter replayed',
        );
        return { eventId: replayed.id, sequence: newSequence, topic: replayed.topic };
      },
    ),

    Watch: (call: grpc.ServerWritableStream<WatchRequest__Output, Buffer>) => {
      let who: string;
      try {
        who = peerIdentity(call, options.identity).uri;
        if (isRevoked(state.policies, who)) throw revokedRefusal(who);
      } catch (error) {
        call.emit('error', toServiceError(error, logger));
        return;
      }
      watches.serve(call, who);
    },
  };

  return {
    name: 'agentmesh.v1.ControlPlane',
    definition,
    implementation,
  };
}

/** When the certificate the caller presented on this connection expires (ms since the epoch), when known. */
function peerCertificateExpiry(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const validTo = call.getAuthContext()?.sslPeerCertificate?.valid_to;
  const expiresAt = validTo ? Date.parse(validTo) : NaN;
  return Number.isFinite(expiresAt) ? expiresAt : undefined;
}
