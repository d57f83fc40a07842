import * as grpc from '@grpc/grpc-js';
import type { Attributes } from '@opentelemetry/api';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentRecord } from '../core/agent-record.js';
import { Code, MeshError, codeName } from '../core/errors.js';
import type { AgentClient } from '../generated/agentmesh/v1/Agent.js';
import type { Logger } from '../observability/logger.js';
import {
  SpanKind,
  endSpan,
  startSpan,
  traceparentOf,
  type SpanDescription,
} from '../observability/tracing.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { fromServiceError, statusFromServer } from '../transport/status.js';
import {
  CONTEXT_KEYS,
  currentContext,
  newTraceparent,
  outboundContext,
  type CallContext,
} from '../core/call-context.js';
import { createBalancer } from './create-balancer.js';
import { describeQuery, type EndpointCache, type TargetQuery } from './endpoint-cache.js';
import { EndpointStats } from './endpoint-stats.js';
import type { BalancerName, Endpoint, LoadBalancer } from './load-balancer.js';
import { OutlierDetector, type OutlierSettings } from './outlier-detector.js';
import { RetryBudget, backoffDelay, type RetryBudgetSettings } from './retry-budget.js';

/** Options of one call. */
export interface MeshCallOptions {
  /** Time the whole call (all attempts) may take, in ms (default: the client's, 10 s). */
  timeoutMs?: number;
  /** The call may run twice without harm: it fails over even after reaching a handler. */
  idempotent?: boolean;
  /** Strategy for this call (default: the client's, `p2c-ewma`). */
  balancer?: BalancerName;
  /** Consistent-hashing key, e.g. a conversation id. */
  key?: string;
  /** Media type of the payload (default: application/json for objects, text/plain for strings). */
  contentType?: string;
  /** Starts or overrides the conversation id that travels with the call (and the calls it causes). */
  conversationId?: string;
  /**
   * Priority class at callees that queue calls: `interactive` runs before `default` and `batch` (default: the
   * class of the call being handled, else `default`).
   */
  priority?: 'interactive' | 'default' | 'batch';
  /** Starts or overrides the tenant that travels with the call. */
  tenant?: string;
}

/** A call's answer and who gave it. */
export interface MeshCallResult {
  payload: Buffer;
  contentType: string;
  agent: AgentRecord;
  attempts: number;
  /** The W3C trace id the call travelled under (the callee's log lines carry it too). */
  traceId: string;
}

/** Options of a streamed call. */
export interface MeshStreamOptions extends Omit<MeshCallOptions, 'timeoutMs'> {
  /** The stream fails with DEADLINE_EXCEEDED when no chunk arrives for this long (default 30 s). */
  idleTimeoutMs?: number;
  /** An overall limit, when wanted (none by default: a long generation is not cut off by a unary timeout). */
  timeoutMs?: number;
}

/** One chunk of a streamed answer. */
export interface MeshStreamChunk {
  payload: Buffer;
  contentType: string;
}

/** Options for {@link MeshClient}. */
export interface MeshClientOptions {
  identity: MeshIdentity;
  cache: EndpointCache;
  logger: Logger;
  defaultTimeoutMs?: number;
  defaultBalancer?: BalancerName;
  /** Most attempts per call, the first included (default 3). */
  maxAttempts?: number;
  outliers?: Partial<OutlierSettings>;
  retryBudget?: Partial<RetryBudgetSettings>;
  random?: () => number;
  /** Most agents a chain of calls may pass through (default 10). */
  hopLimit?: number;
  /** Told about every attempt, retry, failover and ejection (metrics, the control plane's call reports). */
  observer?: CallObserver;
}

/** What a mesh client tells about its calls. */
export interface CallObserver {
  /** One attempt finished at `callee` with gRPC `code` (0: OK) after `ms` (for a stream: when it ended). */
  attempt(callee: AgentRecord, method: string, code: number, ms: number, error: MeshError | undefined): void;
  /** A call tries again at another instance of `calleeType` after a failed attempt. */
  retry(calleeType: string): void;
  /** A call succeeded at another instance after an attempt failed. */
  failover(calleeType: string): void;
  /** An instance of `calleeType` was ejected from balancing after failing repeatedly. */
  ejection(calleeType: string): void;
  /** A call failed UNAVAILABLE without an attempt: no healthy instance of `calleeType` (or none at all). */
  unrouted(calleeType: string, method: string): void;
}

/** One channel to an instance and the calls it carries: a replaced channel closes once its last call ends. */
interface Connection {
  client: AgentClient;
  active: number;
  retired: boolean;
  closed: boolean;
  /** Whether the channel was ever seen READY: one that was, and is not now, has lost its connection. */
  connected: boolean;
}

interface Member {
  record: AgentRecord;
  endpoint: Endpoint;
  connection: Connection;
}

interface Target {
  query: TargetQuery;
  balancer: LoadBalancer;
  /** The ids of the target's instances: the outlier-ejection share is counted among them. */
  ids: string[];
  version: number;
}

/** An instance picked for one attempt, and the target (as of the pick) it was picked from. */
interface Pick {
  member: Member;
  target: Target;
}

/** How one attempt of a unary call ended (for a failure: whether the server never got it, and whether it answered). */
type Attempt =
  | { ok: true; value: { payload: Buffer; contentType: string } }
  | { ok: false; error: grpc.ServiceError; neverSent: boolean; answered: boolean };

/** Codes that mean the instance could not take the call: worth another instance. */
const RETRYABLE = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED]);
/** Codes that count against an instance for outlier ejection (see {@link countsAgainst}). */
const INSTANCE_FAILURES = new Set<number>([
  grpc.status.UNAVAILABLE,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
]);
/**
 * The statuses grpc-js gives a call it never sent: its picker found no connection ("No connection established.
 * Last error: ..."), or the channel closed while the call waited for one.
 */
const NOT_SENT_DETAILS = /^(No connection established|Channel closed before call started)/;

function encode(
  payload: Buffer | string | unknown,
  contentType: string | undefined,
): { payload: Buffer; contentType: string } {
  if (Buffer.isBuffer(payload)) return { payload, contentType: contentType ?? 'application/octet-stream' };
  if (typeof payload === 'string')
    return { payload: Buffer.from(payload), contentType: contentType ?? 'text/plain' };
  return { payload: Buffer.from(JSON.stringify(payload)), contentType: contentType ?? 'application/json' };
}

/**
 * Whether a failed attempt certainly never reached a server, so that even a non-idempotent call may move on. It
 * is decided from what this client saw, never from the status text alone: a server may answer with any text,
 * e.g. the connection error of its own downstream call. Only when the server did not answer at all (see
 * {@link serverAnswered}), and with a status grpc-js itself gives a call it did not send, was it never reached.
 */
function neverReached(error: grpc.ServiceError, answered: boolean): boolean {
  return error.code === grpc.status.UNAVAILABLE && !answered && NOT_SENT_DETAILS.test(error.details);
}

/**
 * Whether the server answered an attempt at all: every answer starts with response headers, which arrived on their
 * own (`heardFromServer`) or, in a status-only answer, are the status's metadata (at least its content-type). A
 * status with neither is grpc-js's own: the transport gave way (a reset stream, a dropped connection).
 */
function serverAnswered(error: grpc.ServiceError, heardFromServer: boolean): boolean {
  return heardFromServer || statusFromServer(error);
}

/**
 * Whether a failed attempt may go to another instance: a code that says the instance could not take the call,
 * when the call is idempotent or certainly never ran there; and for an idempotent call, also an INTERNAL that the
 * server never sent ({@link statusFromServer}): a transport reset, as an overloaded machine produces, or a stream
 * that ended mid-answer because its server died or exited.
 */
function retryable(code: number, idempotent: boolean, neverRan: boolean, error: grpc.ServiceError): boolean {
  if (RETRYABLE.has(code)) return idempotent || neverRan;
  return idempotent && code === grpc.status.INTERNAL && !statusFromServer(error);
}

/**
 * Whether a failed attempt counts against its instance for outlier ejection: it failed, or it gave no answer at all
 * within the deadline (a hung instance answers nothing). A DEADLINE_EXCEEDED the instance sent itself (its queue
 * expired the call, or the call arrived too late) speaks of the caller's budget, not of the instance.
 */
function countsAgainst(code: number, answered: boolean): boolean {
  return INSTANCE_FAILURES.has(code) && (code !== grpc.status.DEADLINE_EXCEEDED || !answered);
}

function noAgent(query: TargetQuery): MeshError {
  return new MeshError(
    Code.UNAVAILABLE,
    `no healthy agent for ${describeQuery(query)}: none is registered, or all are draining, unhealthy or ejected`,
  );
}

function idleError(idleTimeoutMs: number): MeshError {
  return new MeshError(Code.DEADLINE_EXCEEDED, `stream idle for ${idleTimeoutMs}ms: no chunk from the agent`);
}

/**
 * The in-process proxy: calls agents by type, capability or labels. It picks a healthy instance from the endpoint
 * cache with the chosen strategy, keeps one mTLS channel per instance (checking each instance's registered SPIFFE
 * ID, and reconnecting when this process's certificate is renewed), fails over to a different instance on
 * retryable failures within a retry budget, ejects instances that keep failing, and gives every call a deadline.
 */
export class MeshClient {
  private readonly members = new Map<string, Member>();
  private readonly targets = new Map<string, Target>();
  private readonly outliers: OutlierDetector;
  /** Instances that refused with a retry-after hint, until when. */
  private readonly pushedBack = new Map<string, number>();
  private readonly budget: RetryBudget;
  private readonly random: () => number;
  private version = 0;
  private closed = false;
  private readonly stopListening: () => void;
  private readonly stopIdentityUpdates: () => void;

  constructor(private readonly options: MeshClientOptions) {
    this.outliers = new OutlierDetector(options.outliers);
    this.budget = new RetryBudget(options.retryBudget);
    this.random = options.random ?? Math.random;
    this.stopListening = options.cache.onChange((change, agentId) =>
      change === 'load' ? this.loadReported(agentId!) : this.refresh(),
    );
    // A renewed certificate reaches only new connections: open them, and let calls on the old ones finish.
    this.stopIdentityUpdates = options.identity.onUpdate(() => this.reconnect());
  }

  /**
   * Invokes `method` on an agent matching `target`.
   * @throws MeshError with the callee's status, UNAVAILABLE when no healthy agent matches, INVALID_ARGUMENT for
   * an unknown balancer, FAILED_PRECONDITION after {@link MeshClient.close}.
   */
  async call(
    target: TargetQuery,
    method: string,
    payload: Buffer | string | unknown,
    options: MeshCallOptions = {},
  ): Promise<MeshCallResult> {
    this.assertOpen();
    const strategy = options.balancer ?? this.options.defaultBalancer ?? 'p2c-ewma';
    this.targetFor(target, strategy); // an unknown strategy fails here, before anything is counted
    const parent = currentContext();
    // A call made while handling one inherits its deadline: it cannot outlive the call that caused it.
    const deadline = Math.min(
      Date.now() + (options.timeoutMs ?? this.options.defaultTimeoutMs ?? 10_000),
      parent?.deadline ?? Infinity,
    );
    const span = startSpan(SpanKind.CLIENT, () => clientSpan(target, method, parent));
    const maxAttempts = this.options.maxAttempts ?? 3;
    const tried = new Set<string>();
    let lastError: MeshError | undefined;
    this.budget.recordCall();
    try {
      // Inside the try: a refused context (a call loop) or a payload that cannot be encoded still ends the span.
      const metadata = this.outboundMetadata(parent, options, traceparentOf(span), deadline);
      const request = { method, ...encode(payload, options.contentType) };
      for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
        const picked = this.pickNext(target, strategy, options.key, tried);
        if (!picked) break;
        const { endpoint, record, connection } = picked.member;
        const started = performance.now();
        endpoint.stats.start();
        connection.active += 1;
        const outcome = await this.invoke(connection.client, request, metadata, deadline).finally(() =>
          this.release(connection),
        );
        const elapsed = performance.now() - started;
        endpoint.stats.finish(elapsed, outcome.ok);
        if (outcome.ok) {
          this.outliers.record(endpoint.id, true, picked.target.ids);
          this.options.observer?.attempt(record, method, Code.OK, elapsed, undefined);
          if (attempt > 0) this.options.observer?.failover(record.spec.type);
          if (span.isRecording()) span.setAttributes(calleeAttributes(record, attempt + 1));
          endSpan(span);
          return { ...outcome.value, agent: record, attempts: attempt + 1, traceId: traceIdOf(metadata) };
        }
        const { error } = outcome;
        lastError = fromServiceError(error);
        // A refusal with a retry-after hint comes from the callee's queue: the call never ran, so it may go to
        // another instance; this one is avoided until the hint expires.
        const pushedBack = this.notePushback(endpoint.id, lastError);
        const neverSent = outcome.neverSent || pushedBack;
        this.options.observer?.attempt(record, method, error.code, elapsed, lastError);
        if (countsAgainst(error.code, outcome.answered))
          this.recordFailure(endpoint.id, record, picked.target);
        if (span.isRecording()) span.setAttributes(calleeAttributes(record, attempt + 1));
        if (!retryable(error.code, options.idempotent ?? false, neverSent, error)) throw lastError;
        await this.beforeRetry(lastError, endpoint.id, attempt, deadline);
        this.options.observer?.retry(record.spec.type);
      }
      if (!lastError) this.options.observer?.unrouted(target.type ?? 'unknown', method);
      throw lastError ?? noAgent(target);
    } catch (error) {
      endSpan(span, error instanceof MeshError ? error : fromServiceError(error));
      throw error;
    }
  }

  /**
   * Calls the tool `skillId` (a skill in agents' cards) on a healthy agent that offers it, with the usual balancing
   * and failover; `args` is sent as the payload (JSON for objects) to the method of the same name. `target` narrows
   * the agents further (a type, labels, a skill tag).
   * @throws MeshError UNAVAILABLE when no healthy agent offers the skill, else as {@link MeshClient.call}.
   */
  async callTool(
    skillId: string,
    args: unknown,
    options: MeshCallOptions & { target?: Omit<TargetQuery, 'skill'> } = {},
  ): Promise<MeshCallResult> {
    const { target, ...callOptions } = options;
    return this.call({ ...target, skill: skillId }, skillId, args, callOptions);
  }

  /**
   * Invokes a streamed method on an agent matching `target` and yields its chunks as they arrive. Failover
   * happens only before the first chunk, as for {@link MeshClient.call} (backoff, retry budget, ejected instances
   * avoided, the overall deadline); after it, a failure ends the stream with its error. A stream on which the
   * agent sends nothing for `idleTimeoutMs` is cancelled (DEADLINE_EXCEEDED); the consumer's own time between
   * chunks does not count. An open stream counts as a call in flight to its instance until it ends.
   */
  async *stream(
    target: TargetQuery,
    method: string,
    payload: Buffer | string | unknown,
    options: MeshStreamOptions = {},
  ): AsyncGenerator<MeshStreamChunk> {
    this.assertOpen();
    const strategy = options.balancer ?? this.options.defaultBalancer ?? 'p2c-ewma';
    this.targetFor(target, strategy);
    const parent = currentContext();
    const deadline = Math.min(
      options.timeoutMs ? Date.now() + options.timeoutMs : Infinity,
      parent?.deadline ?? Infinity,
    );
    const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    const span = startSpan(SpanKind.CLIENT, () => clientSpan(target, method, parent));
    const maxAttempts = this.options.maxAttempts ?? 3;
    const tried = new Set<string>();
    let lastError: MeshError | undefined;
    this.budget.recordCall();
    let failure: MeshError | undefined;
    try {
      const metadata = this.outboundMetadata(parent, options, traceparentOf(span), deadline);
      const request = { method, ...encode(payload, options.contentType) };
      for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
        const picked = this.pickNext(target, strategy, options.key, tried);
        if (!picked) break;
        const { endpoint, record, connection } = picked.member;
        if (span.isRecording()) span.setAttributes(calleeAttributes(record, attempt + 1));
        connection.active += 1;
        const call = connection.client.InvokeStream(
          request,
          metadata,
          Number.isFinite(deadline) ? { deadline } : {},
        );
        let heardFromServer = false;
        call.on('metadata', () => (heardFromServer = true));
        const iterator = call[Symbol.asyncIterator]() as AsyncIterator<MeshStreamChunk>;
        let idledOut = false;
        // Only the wait for the agent is timed: a chunk already buffered resolves at once, however long the
        // consumer took with the previous one.
        const next = async (): Promise<IteratorResult<MeshStreamChunk>> => {
          const idle = setTimeout(() => {
            idledOut = true;
            call.cancel();
          }, idleTimeoutMs);
          try {
            return await iterator.next();
          } finally {
            clearTimeout(idle);
          }
        };
        const started = performance.now();
        endpoint.stats.start();
        let first: IteratorResult<MeshStreamChunk>;
        try {
          first = await next();
        } catch (caught) {
          call.cancel();
          this.release(connection);
          const elapsed = performance.now() - started;
          endpoint.stats.finish(elapsed, false);
          const error = idledOut ? idleError(idleTimeoutMs) : fromServiceError(caught);
          this.options.observer?.attempt(record, method, error.code, elapsed, error);
          if (idledOut) throw error;
          const status = caught as grpc.ServiceError;
          const answered = serverAnswered(status, heardFromServer);
          if (countsAgainst(error.code, answered)) this.recordFailure(endpoint.id, record, picked.target);
          lastError = error;
          const pushedBack = this.notePushback(endpoint.id, error);
          const neverRan = pushedBack || neverReached(status, answered);
          if (!retryable(error.code, options.idempotent ?? false, neverRan, status)) throw lastError;
          await this.beforeRetry(lastError, endpoint.id, attempt, deadline);
          this.options.observer?.retry(record.spec.type);
          continue;
        }
        // Its latency is the time to the first chunk; it stays in flight until it ends.
        endpoint.stats.observe(performance.now() - started, true);
        this.outliers.record(endpoint.id, true, picked.target.ids);
        if (attempt > 0) this.options.observer?.failover(record.spec.type);
        let streamError: MeshError | undefined;
        try {
          for (let result = first; !result.done; result = await next()) {
            yield { payload: result.value.payload, contentType: result.value.contentType };
          }
        } catch (caught) {
          streamError = idledOut ? idleError(idleTimeoutMs) : fromServiceError(caught);
          if (!idledOut && countsAgainst(streamError.code, true)) {
            this.recordFailure(endpoint.id, record, picked.target);
          }
          throw streamError;
        } finally {
          const code = streamError?.code ?? Code.OK;
          this.options.observer?.attempt(record, method, code, performance.now() - started, streamError);
          call.cancel(); // no-op after a normal end; stops the callee when the consumer stops early
          endpoint.stats.end();
          this.release(connection);
        }
        return;
      }
      if (!lastError) this.options.observer?.unrouted(target.type ?? 'unknown', method);
      throw lastError ?? noAgent(target);
    } catch (error) {
      failure = error instanceof MeshError ? error : fromServiceError(error);
      throw error;
    } finally {
      endSpan(span, failure);
    }
  }

  /** The metadata of an outbound call: the current context, with the conversation or tenant a call starts. */
  private outboundMetadata(
    parent: CallContext | undefined,
    options: { conversationId?: string; tenant?: string; priority?: string },
    spanTraceparent: string | undefined,
    deadline: number,
  ): grpc.Metadata {
    const context: CallContext | undefined =
      options.conversationId || options.tenant || options.priority
        ? {
            chain: [],
            ...parent,
            ...(options.conversationId ? { conversationId: options.conversationId } : {}),
            ...(options.tenant ? { tenant: options.tenant } : {}),
            ...(options.priority ? { priority: options.priority } : {}),
          }
        : parent;
    const metadata = new grpc.Metadata();
    // The deadline in absolute time too: grpc-timeout is relative, so a request that waited in a socket buffer
    // (its callee stopped, then resumed) would get its whole timeout again on arrival and run long after we gave up.
    if (Number.isFinite(deadline)) metadata.set(CONTEXT_KEYS.deadline, String(Math.floor(deadline)));
    if (!context) {
      // A call that starts a chain starts its trace here, so that the caller knows the trace id its callee logs.
      // It sends nothing else: the callee starts the chain from the verified certificate.
      metadata.set(CONTEXT_KEYS.traceparent, spanTraceparent ?? newTraceparent());
      return metadata;
    }
    for (const [key, value] of Object.entries(
      outboundContext(this.options.identity.spiffeId.uri, context, this.options.hopLimit),
    )) {
      metadata.set(key, value);
    }
    // A recorded client span is the parent of the callee's span.
    if (spanTraceparent) metadata.set(CONTEXT_KEYS.traceparent, spanTraceparent);
    return metadata;
  }

  /**
   * Closes every channel and stops following the registry and identity renewals. Calls already sent finish;
   * later calls fail with FAILED_PRECONDITION.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopListening();
    this.stopIdentityUpdates();
    for (const member of this.members.values()) this.closeConnection(member.connection);
    this.members.clear();
    this.targets.clear();
  }

  /**
   * Notes a callee's refusal with a retry-after hint (RESOURCE_EXHAUSTED from its queue): the instance is avoided
   * until the hint expires. Returns whether it was one.
   */
  private notePushback(id: string, error: MeshError): boolean {
    if (error.code !== Code.RESOURCE_EXHAUSTED || error.retryAfterMs === undefined) return false;
    this.pushedBack.set(id, Date.now() + error.retryAfterMs);
    return true;
  }

  /** Instances not to pick while others are left: the ejected ones and those that pushed back. */
  private avoided(): ReadonlySet<string> {
    const ejected = this.outliers.ejected();
    if (this.pushedBack.size === 0) return ejected;
    const now = Date.now();
    const avoided = new Set(ejected);
    for (const [id, until] of this.pushedBack) {
      if (until > now) avoided.add(id);
      else this.pushedBack.delete(id);
    }
    return avoided;
  }

  /** A failed attempt counts toward ejecting its instance. */
  private recordFailure(id: string, record: AgentRecord, target: Target): void {
    if (this.outliers.record(id, false, target.ids)) this.options.observer?.ejection(record.spec.type);
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new MeshError(
        Code.FAILED_PRECONDITION,
        'this mesh client is closed: create a new one to make calls',
      );
    }
  }

  /**
   * Picks the instance for the next attempt from the target's instances as they are now (an instance may have
   * left while the previous attempt ran): not one already tried, and not an ejected one unless only ejected ones
   * are left. Undefined when none is left.
   * @throws MeshError FAILED_PRECONDITION when the client was closed meanwhile.
   */
  private pickNext(
    query: TargetQuery,
    strategy: BalancerName,
    key: string | undefined,
    tried: Set<string>,
  ): Pick | undefined {
    for (;;) {
      this.assertOpen();
      const target = this.targetFor(query, strategy);
      const ejected = this.avoided();
      const pick = (exclude: ReadonlySet<string>) =>
        target.balancer.pick(key !== undefined ? { exclude, key } : { exclude });
      let exclude: ReadonlySet<string> = ejected.size === 0 ? tried : new Set([...tried, ...ejected]);
      let endpoint = pick(exclude);
      // An instance whose connection was lost (a keepalive went unanswered: it hangs, or its link is cut) is passed
      // over while it reconnects, as long as another one is left.
      let passedOver = false;
      while (endpoint && this.lostConnection(endpoint.id)) {
        passedOver = true;
        exclude = new Set([...exclude, endpoint.id]);
        endpoint = pick(exclude);
      }
      endpoint ??= ejected.size > 0 || passedOver ? pick(tried) : undefined;
      if (!endpoint) return undefined;
      tried.add(endpoint.id);
      const member = this.members.get(endpoint.id);
      // The balancer was brought up to date just now, so this holds; a stale endpoint is skipped, not called.
      if (member?.endpoint === endpoint) return { member, target };
    }
  }

  /**
   * Whether the instance `id` had a connection and has lost it: its channel was READY once and is not now. Such a
   * channel is asked to reconnect (grpc-js leaves a dropped one idle until asked), so that it comes back when the
   * instance does. A channel that never connected yet is not passed over: only an attempt can connect it.
   */
  private lostConnection(id: string): boolean {
    const connection = this.members.get(id)?.connection;
    if (!connection) return false;
    const channel = connection.client.getChannel();
    const state = channel.getConnectivityState(false);
    if (state === grpc.connectivityState.READY) {
      connection.connected = true;
      return false;
    }
    if (!connection.connected && state !== grpc.connectivityState.TRANSIENT_FAILURE) return false;
    if (state === grpc.connectivityState.IDLE) channel.getConnectivityState(true);
    return true;
  }

  /**
   * Between attempts: gives up (throwing `error`) when the client was closed, the deadline has passed or the
   * retry budget is spent; otherwise waits a jittered backoff, never past the deadline.
   */
  private async beforeRetry(
    error: MeshError,
    agent: string,
    attempt: number,
    deadline: number,
  ): Promise<void> {
    if (this.closed || Date.now() >= deadline || !this.budget.tryRetry()) throw error;
    this.options.logger.debug({ agent, code: codeName(error.code), attempt }, 'failing over');
    await sleep(Math.min(backoffDelay(attempt, this.random), Math.max(0, deadline - Date.now())));
    if (Date.now() >= deadline) throw error;
  }

  /** One attempt of a unary call; a failure says whether the request certainly never reached the server. */
  private invoke(
    channel: AgentClient,
    request: { method: string; payload: Buffer; contentType: string },
    metadata: grpc.Metadata,
    deadline: number,
  ): Promise<Attempt> {
    return new Promise((resolve) => {
      let heardFromServer = false;
      const call = channel.Invoke(request, metadata, { deadline }, (error, response) => {
        if (!error && response) return resolve({ ok: true, value: response });
        const answered = serverAnswered(error!, heardFromServer);
        resolve({ ok: false, error: error!, neverSent: neverReached(error!, answered), answered });
      });
      call.on('metadata', () => (heardFromServer = true));
    });
  }

  /**
   * The target for a query and strategy, its balancer brought up to date with the registry.
   * @throws MeshError INVALID_ARGUMENT for an unknown strategy (and then records nothing).
   */
  private targetFor(query: TargetQuery, name: BalancerName): Target {
    const key = `${name}|${query.type ?? ''}|${(query.capabilities ?? []).join(',')}|${query.labelSelector ?? ''}|${query.skill ?? ''}|${query.skillTag ?? ''}`;
    let target = this.targets.get(key);
    if (!target) {
      target = { query, balancer: createBalancer(name, this.random), ids: [], version: -1 };
      this.targets.set(key, target);
    }
    if (target.version !== this.version) {
      const endpoints = this.options.cache.select(query).map((record) => this.member(record).endpoint);
      target.balancer.update(endpoints);
      target.ids = endpoints.map((endpoint) => endpoint.id);
      target.version = this.version;
    }
    return target;
  }

  /** The member for an agent: its endpoint statistics and its one channel, replaced if its address or ID changed. */
  private member(record: AgentRecord): Member {
    const existing = this.members.get(record.id);
    if (
      existing &&
      existing.record.spec.endpoint === record.spec.endpoint &&
      existing.record.spiffeId === record.spiffeId
    ) {
      existing.record = record;
      existing.endpoint.weight = record.spec.weight;
      existing.endpoint.reported = record.load;
      return existing;
    }
    if (existing) this.retire(existing.connection);
    const member: Member = {
      record,
      endpoint: {
        id: record.id,
        weight: record.spec.weight,
        reported: record.load,
        stats: new EndpointStats(),
      },
      connection: this.connect(record),
    };
    this.members.set(record.id, member);
    return member;
  }

  /** A new channel to an agent, with credentials (so a connection) of its own that present our current identity. */
  private connect(record: AgentRecord): Connection {
    const { protos } = loadMeshProtos();
    return {
      client: new protos.agentmesh.v1.Agent(
        record.spec.endpoint,
        createChannelCredentials(this.options.identity, record.spiffeId),
        MESH_CHANNEL_OPTIONS,
      ),
      active: 0,
      retired: false,
      closed: false,
      connected: false,
    };
  }

  /** After our certificate is renewed: every member moves to a new connection, which presents the new one. */
  private reconnect(): void {
    if (this.closed) return;
    for (const member of this.members.values()) {
      const previous = member.connection;
      member.connection = this.connect(member.record);
      this.retire(previous);
    }
  }

  /** A connection no new call will use: it closes now, or when the last call on it ends. */
  private retire(connection: Connection): void {
    connection.retired = true;
    if (connection.active === 0) this.closeConnection(connection);
  }

  /** A call on `connection` ended. */
  private release(connection: Connection): void {
    connection.active -= 1;
    if (connection.retired && connection.active === 0) this.closeConnection(connection);
  }

  private closeConnection(connection: Connection): void {
    if (connection.closed) return;
    connection.closed = true;
    connection.client.close();
  }

  /** An agent reported its load: its endpoint carries the report, with no recomputing of targets. */
  private loadReported(id: string): void {
    const member = this.members.get(id);
    const record = this.options.cache.get(id);
    if (!member || !record) return;
    member.record = record;
    member.endpoint.reported = record.load;
  }

  /** After a registry change: targets recompute their endpoints, channels to departed agents close. */
  private refresh(): void {
    this.version += 1;
    const present = new Set<string>();
    for (const id of this.members.keys()) if (this.options.cache.get(id)) present.add(id);
    for (const [id, member] of this.members) {
      if (!present.has(id)) {
        this.retire(member.connection);
        this.members.delete(id);
      }
    }
    this.outliers.retain(present);
  }
}

/** A client span: named by the callee type and method (e.g. `summarizer/summarize`), a child of the call context. */
function clientSpan(target: TargetQuery, method: string, parent: CallContext | undefined): SpanDescription {
  return {
    name: `${target.type ?? (target.skill ? 'tool' : 'agent')}/${method}`,
    attributes: {
      'rpc.system': 'grpc',
      'rpc.service': 'agentmesh.v1.Agent',
      'agentmesh.method': method,
      ...(target.type ? { 'agentmesh.callee.type': target.type } : {}),
    },
    parentTraceparent: parent?.traceparent,
  };
}

function calleeAttributes(record: AgentRecord, attempts: number): Attributes {
  return {
    'agentmesh.callee.id': record.id,
    'agentmesh.callee.type': record.spec.type,
    'server.address': record.spec.endpoint,
    'agentmesh.attempts': attempts,
  };
}

/** The trace id in a call's outbound `traceparent`. */
function traceIdOf(metadata: grpc.Metadata): string {
  return String(metadata.get(CONTEXT_KEYS.traceparent)[0] ?? '').split('-')[1] ?? '';
}
