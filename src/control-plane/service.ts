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
import type { CertificateAuthority } from '../identity/certificate-authority.js';
import { verifyJoinToken } from '../identity/join-token.js';
import { identityNameOf, identitySpiffeId } from '../core/spiffe-id.js';
import type { TrustBundle } from '../identity/trust-bundle.js';
import { splitPemCertificates } from '../identity/x509.js';
import type { Logger } from '../observability/logger.js';
import { peerIdentity } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import type { ServiceRegistration } from '../transport/server.js';
import { admissionRefusal, toServiceError } from '../transport/status.js';
import type { AgentRecord } from '../core/agent-record.js';
import type { CallReport } from './call-graph.js';
import { policiesFromWire, policiesToWire, recordToWire, specFromWire } from './convert.js';
import { parseLabelSelector } from '../core/label-selector.js';
import { isRevoked, revokedRefusal } from '../core/policy.js';
import { RequestLimiter, type RequestLimitSettings } from './request-limits.js';
import type { Registrar } from './registrar.js';
import type { ControlPlaneState, StateChange } from './state.js';

/** The path of the one method an agent without a certificate may call (with a join token). */
export const SIGN_CERTIFICATE_METHOD = '/agentmesh.v1.ControlPlane/SignCertificate';

/** Options for {@link createControlPlaneService}. */
export interface ControlPlaneServiceOptions {
  identity: MeshIdentity;
  state: ControlPlaneState;
  registrar: Registrar;
  /** The CA in force and the bundle it hands out (both may change while running, e.g. in a root rotation). */
  ca: () => { authority: CertificateAuthority; bundle: TrustBundle };
  /** SPIFFE IDs allowed to change policies, besides the control plane's own. */
  admins?: readonly string[];
  /** Longest certificate the CA hands out (default 24 h). */
  maxCertificateTtlMs?: number;
  /** How often an idle watch stream gets a progress message (default 10 s). */
  watchProgressMs?: number;
  /** Most messages queued for a watcher that does not read before it is cut off (default 10,000). */
  watchQueueLimit?: number;
  /** Most bytes (estimated) queued for a watcher that does not read before it is cut off (default 16 MiB). */
  watchQueueBytes?: number;
  /** Most watch streams one identity may hold open at once (default 16; an agent needs one). */
  watchesPerIdentity?: number;
  /** Told about handled requests (metrics, dashboard). */
  observer?: ControlPlaneServiceObserver;
  /** Per-identity rate limits of Register, Heartbeat and renewals (default {@link DEFAULT_REQUEST_LIMITS}). */
  requestLimits?: Partial<RequestLimitSettings>;
  logger: Logger;
  clock?: { now(): number };
}

/**
 * What the service tells the rest of the control plane about the requests it handled, for metrics and the
 * dashboard. Called after the request succeeded (except `rpcFinished`); an observer that throws is logged and
 * never fails the request.
 */
export interface ControlPlaneServiceObserver {
  /** A unary call finished with `code` after `seconds`, or a watch stream ended (`seconds` undefined). */
  rpcFinished?(method: string, code: number, seconds?: number): void;
  watchOpened?(): void;
  watchClosed?(): void;
  /** `record` registered; its connection presented a certificate expiring at `certificateExpiresAt`. */
  registered?(record: AgentRecord, certificateExpiresAt: number | undefined): void;
  /** `record` heartbeat (its state before this heartbeat's changes) with these call reports, not yet validated. */
  heartbeat?(
    record: AgentRecord,
    calls: readonly CallReport[],
    certificateExpiresAt: number | undefined,
  ): void;
  deregistered?(agentId: string): void;
  /** A certificate was signed for identity `name` (with a join token, or as a renewal). */
  certificateSigned?(signed: { name: string; spiffeId: string; expiresAt: number; join: boolean }): void;
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
  const maxCertTtl = options.maxCertificateTtlMs ?? 24 * 3_600_000;
  const limiter = new RequestLimiter(options.requestLimits, clock);
  const watches = new Map<string, number>();
  const maxWatches = options.watchesPerIdentity ?? 16;
  /** Charges one request to the caller's rate; a refusal tells when to come back (the call never ran). */
  const limit = (method: keyof RequestLimitSettings, callerId: string) => {
    try {
      limiter.take(method, callerId);
    } catch (error) {
      throw admissionRefusal(error as MeshError);
    }
  };

  const observer = options.observer ?? {};
  // Observers are for metrics and the dashboard: a bug there is logged, and the request it watched still succeeds.
  const observe = (what: string, notify: () => void) => {
    try {
      notify();
    } catch (error) {
      logger.warn({ err: error, observer: what }, 'control-plane observer failed');
    }
  };

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
  const caller = (call: grpc.ServerUnaryCall<unknown, unknown>) => {
    const id = peerIdentity(call, options.identity);
    const ours = id.trustDomain === options.identity.spiffeId.trustDomain;
    return { id: id.uri, name: ours ? identityNameOf(id) : undefined, agentTypes: id.agentTypes };
  };

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

    SignCertificate: unary<SignCertificateRequest__Output, unknown>(
      'SignCertificate',
      async (request, call) => {
        const { authority: ca, bundle } = options.ca();
        const ttlMs = Math.min(maxCertTtl, Number(request.ttlMs) > 0 ? Number(request.ttlMs) : maxCertTtl);
        let name: string;
        // The entitled types come from the token the CA signed, or from the certificate being renewed: never from
        // the request.
        let types: readonly string[];
        let consume: (() => Promise<boolean>) | undefined;
        if (request.joinToken !== '') {
          const claims = verifyJoinToken(request.joinToken, bundle, ca.trustDomain, clock.now());
          if (!claims.ok) throw claims.error;
          name = claims.value.name;
          types = claims.value.types;
          const joining = identitySpiffeId(ca.trustDomain, name).uri;
          if (isRevoked(state.policies, joining)) throw revokedRefusal(joining);
          if (await registrar.joinTokenUsed(claims.value.jti)) throw usedToken();
          consume = () => registrar.consumeJoinToken(claims.value.jti, claims.value.expiresAt);
        } else {
          const who = caller(call); // renewal: the current certificate decides the identity
          if (who.name === undefined)
            throw new MeshError(Code.PERMISSION_DENIED, `${quote(who.id)} is not an identity this CA renews`);
          limit('renewal', who.id);
          name = who.name;
          types = who.agentTypes;
        }
        const signed = ca.signRequest(request.csrPem, name, { ttlMs, types });
        if (consume && !(await consume())) throw usedToken();
        logger.info(
          { spiffeId: signed.spiffeId.uri, serial: signed.serialNumber, join: consume !== undefined },
          'certificate signed',
        );
        if (observer.certificateSigned) {
          const signedFor = {
            name,
            spiffeId: signed.spiffeId.uri,
            expiresAt: signed.notAfter.getTime(),
            join: consume !== undefined,
          };
          observe('certificateSigned', () => observer.certificateSigned!(signedFor));
        }
        return {
          certificatePem: signed.certificatePem,
          spiffeId: signed.spiffeId.uri,
          trustBundlePem: splitPemCertificates(bundle.pem),
          expiresAtUnixMs: signed.notAfter.getTime(),
        };
      },
    ),

    Watch: (call: grpc.ServerWritableStream<WatchRequest__Output, WatchEvent>) => {
      // One identity cannot hold the control plane's memory in watch streams it opens and never reads.
      let who: string;
      try {
        who = peerIdentity(call, options.identity).uri;
        if (isRevoked(state.policies, who)) throw revokedRefusal(who);
      } catch (error) {
        call.emit('error', toServiceError(error, logger));
        return;
      }
      const open = watches.get(who) ?? 0;
      if (open >= maxWatches) {
        call.emit('error', {
          code: grpc.status.RESOURCE_EXHAUSTED,
          details: `"${who.slice(0, 200)}" has ${open} watch streams open, the most one identity may: close one first`,
        });
        return;
      }
      watches.set(who, open + 1);
      serveWatch(call, options, who, () => {
        const left = (watches.get(who) ?? 1) - 1;
        if (left > 0) watches.set(who, left);
        else watches.delete(who);
      });
    },
  };

  return {
    name: 'agentmesh.v1.ControlPlane',
    definition: protos.agentmesh.v1.ControlPlane.service,
    implementation,
  };
}

/** When the certificate the caller presented on this connection expires (ms since the epoch), when known. */
function peerCertificateExpiry(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const validTo = call.getAuthContext()?.sslPeerCertificate?.valid_to;
  const expiresAt = validTo ? Date.parse(validTo) : NaN;
  return Number.isFinite(expiresAt) ? expiresAt : undefined;
}

function usedToken(): MeshError {
  return new MeshError(
    Code.UNAUTHENTICATED,
    'join token refused: it was already used; create a new one with `agent-mesh token create`',
  );
}

function changeToWire(change: StateChange): WatchEvent {
  if (change.kind === 'policies')
    return { revision: change.revision, policies: policiesToWire(change.policies, change.revision) };
  if (change.kind === 'load')
    return { revision: change.revision, load: { agentId: change.agentId, load: change.load } };
  return {
    revision: change.revision,
    agent: {
      type: change.type === 'put' ? 'TYPE_PUT' : 'TYPE_DELETE',
      agent: recordToWire(change.record),
      reason: change.reason,
    },
  };
}

/** What a change weighs in a watcher's queue when its own size is not known (a change replayed on resume). */
const REPLAYED_CHANGE_BYTES = 256;

/**
 * Streams the state to one watcher: a snapshot (or the missed changes when resuming from a kept revision), then
 * every change, with progress messages while idle. A watcher that stops reading is cut off with
 * RESOURCE_EXHAUSTED once its queue holds too many messages or bytes, or when a new snapshot would have to wait
 * behind what it has not read; it resumes from its last revision. `onClosed` is called once when it ends.
 */
function serveWatch(
  call: grpc.ServerWritableStream<WatchRequest__Output, WatchEvent>,
  options: ControlPlaneServiceOptions,
  watcher: string,
  onClosed: () => void,
): void {
  const { state } = options;
  const observer = options.observer ?? {};
  const limit = options.watchQueueLimit ?? 10_000;
  const byteLimit = options.watchQueueBytes ?? 16 * 1024 * 1024;
  const queue: Array<{ event: WatchEvent; bytes: number }> = [];
  let queuedBytes = 0;
  let waitingForDrain = false;
  let lastSent = 0;
  let closed = false;

  const snapshot = (): WatchEvent => ({
    revision: state.revision,
    snapshot: {
      agents: [...state.registry.all()].map(recordToWire),
      policies: policiesToWire(state.policies, state.policiesRevision),
      partial: state.partial,
    },
  });

  const flush = () => {
    while (!closed && !waitingForDrain && queue.length > 0) {
      const { event, bytes } = queue.shift()!;
      queuedBytes -= bytes;
      lastSent = Date.now();
      if (!call.write(event)) {
        waitingForDrain = true;
        call.once('drain', () => {
          waitingForDrain = false;
          flush();
        });
      }
    }
  };

  const cutOff = (why: string) => {
    close(grpc.status.RESOURCE_EXHAUSTED);
    call.emit('error', {
      code: grpc.status.RESOURCE_EXHAUSTED,
      // Messages written just before the cut may never arrive: the watcher resumes from what it received.
      details: `watcher too slow: ${why}; resume from the last revision you received`,
    });
  };

  const enqueue = (event: WatchEvent, bytes: number) => {
    if (closed) return;
    if (queue.length >= limit) return cutOff(`${limit} messages queued`);
    if (queuedBytes + bytes > byteLimit) return cutOff(`${Math.round(queuedBytes / 1024)} KiB queued`);
    queue.push({ event, bytes });
    queuedBytes += bytes;
    flush();
  };

  /** A snapshot goes out at once, or not at all: one that would wait behind unread messages cuts the watcher off. */
  const sendSnapshot = () => {
    if (closed) return;
    if (waitingForDrain || queue.length > 0)
      return cutOff('a new snapshot would wait behind unread messages');
    queue.push({ event: snapshot(), bytes: 0 });
    flush();
  };

  try {
    observer.watchOpened?.();
  } catch (error) {
    options.logger.warn({ err: error }, 'control-plane observer failed');
  }
  const since = Number(call.request.sinceRevision);
  const missed = since > 0 ? state.changesSince(since) : undefined;
  // More missed changes than a queue holds: a snapshot says the same in one message (and the queue cannot
  // overflow before the stream is set up).
  if (missed && missed.length < limit) {
    for (const change of missed) enqueue(changeToWire(change), REPLAYED_CHANGE_BYTES);
    if (missed.length === 0) enqueue({ revision: state.revision, progress: {} }, 0);
  } else {
    sendSnapshot();
  }

  const unsubscribe = state.subscribe(
    (change, bytes) => {
      // A watcher revoked while its stream is open hears nothing more.
      if (change.kind === 'policies' && isRevoked(change.policies, watcher)) {
        close(grpc.status.PERMISSION_DENIED);
        call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: revokedRefusal(watcher).message });
        return;
      }
      enqueue(changeToWire(change), bytes);
    },
    () => sendSnapshot(),
  );
  const progress = setInterval(() => {
    if (Date.now() - lastSent >= (options.watchProgressMs ?? 10_000) && queue.length === 0) {
      enqueue({ revision: state.revision, progress: {} }, 0);
    }
  }, options.watchProgressMs ?? 10_000);
  progress.unref();

  function close(code: number = grpc.status.OK) {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearInterval(progress);
    onClosed();
    try {
      observer.watchClosed?.();
      observer.rpcFinished?.('Watch', code);
    } catch (error) {
      options.logger.warn({ err: error }, 'control-plane observer failed');
    }
  }
  call.on('cancelled', () => close(grpc.status.CANCELLED));
  call.on('close', () => close());
  call.on('error', () => close(grpc.status.UNKNOWN));
}
