import * as grpc from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentRecord } from '../control-plane/agent-record.js';
import { Code, MeshError, codeName } from '../errors.js';
import type { AgentClient } from '../generated/agentmesh/v1/Agent.js';
import type { Logger } from '../observability/logger.js';
import { MESH_CHANNEL_OPTIONS, createChannelCredentials } from '../transport/credentials.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { loadMeshProtos } from '../transport/protos.js';
import { fromServiceError } from '../transport/status.js';
import { currentContext, outboundContext, type CallContext } from './call-context.js';
import { createBalancer } from './create-balancer.js';
import type { EndpointCache, TargetQuery } from './endpoint-cache.js';
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
  /** Starts or overrides the tenant that travels with the call. */
  tenant?: string;
}

/** A call's answer and who gave it. */
export interface MeshCallResult {
  payload: Buffer;
  contentType: string;
  agent: AgentRecord;
  attempts: number;
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
}

interface Member {
  record: AgentRecord;
  endpoint: Endpoint;
  channel: AgentClient;
}

interface Target {
  query: TargetQuery;
  balancer: LoadBalancer;
  version: number;
}

/** Codes that mean the instance could not take the call: worth another instance. */
const RETRYABLE = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED]);
/** Codes that count against an instance for outlier ejection. */
const INSTANCE_FAILURES = new Set<number>([
  grpc.status.UNAVAILABLE,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
]);

function encode(
  payload: Buffer | string | unknown,
  contentType: string | undefined,
): { payload: Buffer; contentType: string } {
  if (Buffer.isBuffer(payload)) return { payload, contentType: contentType ?? 'application/octet-stream' };
  if (typeof payload === 'string')
    return { payload: Buffer.from(payload), contentType: contentType ?? 'text/plain' };
  return { payload: Buffer.from(JSON.stringify(payload)), contentType: contentType ?? 'application/json' };
}

/** Whether a failure happened before the request reached the server (so even a non-idempotent call may move on). */
function neverReached(error: grpc.ServiceError): boolean {
  return (
    error.code === grpc.status.UNAVAILABLE &&
    /No connection established|failed to connect|ECONNREFUSED/i.test(error.details)
  );
}

function describe(query: TargetQuery): string {
  const parts = [
    query.type ? `type ${query.type}` : '',
    query.capabilities?.length ? `capabilities ${query.capabilities.join(', ')}` : '',
    query.labelSelector ? `labels ${query.labelSelector}` : '',
  ].filter(Boolean);
  return parts.join(', ') || 'any agent';
}

/**
 * The in-process proxy: calls agents by type, capability or labels. It picks a healthy instance from the endpoint
 * cache with the chosen strategy, keeps one mTLS channel per instance (checking each instance's registered SPIFFE
 * ID), fails over to a different instance on retryable failures within a retry budget, ejects instances that keep
 * failing, and gives every call a deadline.
 */
export class MeshClient {
  private readonly members = new Map<string, Member>();
  private readonly targets = new Map<string, Target>();
  private readonly outliers: OutlierDetector;
  private readonly budget: RetryBudget;
  private readonly random: () => number;
  private version = 0;
  private readonly stopListening: () => void;

  constructor(private readonly options: MeshClientOptions) {
    this.outliers = new OutlierDetector(options.outliers);
    this.budget = new RetryBudget(options.retryBudget);
    this.random = options.random ?? Math.random;
    this.stopListening = options.cache.onChange(() => this.refresh());
  }

  /**
   * Invokes `method` on an agent matching `target`.
   * @throws MeshError with the callee's status, or UNAVAILABLE when no healthy agent matches.
   */
  async call(
    target: TargetQuery,
    method: string,
    payload: Buffer | string | unknown,
    options: MeshCallOptions = {},
  ): Promise<MeshCallResult> {
    const parent = currentContext();
    // A call made while handling one inherits its deadline: it cannot outlive the call that caused it.
    const deadline = Math.min(
      Date.now() + (options.timeoutMs ?? this.options.defaultTimeoutMs ?? 10_000),
      parent?.deadline ?? Infinity,
    );
    const metadata = this.outboundMetadata(parent, options);
    const request = { method, ...encode(payload, options.contentType) };
    const balancer = this.targetFor(target, options.balancer ?? this.options.defaultBalancer ?? 'p2c-ewma');
    const maxAttempts = this.options.maxAttempts ?? 3;
    const tried = new Set<string>();
    let lastError: MeshError | undefined;
    this.budget.recordCall();
    for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
      const ejected = this.outliers.ejected();
      const exclude = ejected.size === 0 ? tried : new Set([...tried, ...ejected]);
      const endpoint =
        balancer.pick(options.key !== undefined ? { exclude, key: options.key } : { exclude }) ??
        (ejected.size > 0 ? balancer.pick({ exclude: tried }) : undefined);
      if (!endpoint) break;
      const member = this.members.get(endpoint.id)!;
      tried.add(endpoint.id);
      const started = performance.now();
      endpoint.stats.start();
      try {
        const response = await this.invoke(member.channel, request, metadata, deadline);
        endpoint.stats.finish(performance.now() - started, true);
        this.outliers.record(endpoint.id, true, this.members.size);
        return {
          payload: response.payload,
          contentType: response.contentType,
          agent: member.record,
          attempts: attempt + 1,
        };
      } catch (caught) {
        const error = caught as grpc.ServiceError;
        endpoint.stats.finish(performance.now() - started, false);
        if (INSTANCE_FAILURES.has(error.code)) this.outliers.record(endpoint.id, false, this.members.size);
        lastError = fromServiceError(error);
        const retryable = RETRYABLE.has(error.code) && (options.idempotent || neverReached(error));
        if (!retryable || Date.now() >= deadline || !this.budget.tryRetry()) throw lastError;
        this.options.logger.debug(
          { agent: endpoint.id, code: codeName(error.code), attempt },
          'failing over',
        );
        await sleep(Math.min(backoffDelay(attempt, this.random), Math.max(0, deadline - Date.now())));
      }
    }
    throw (
      lastError ??
      new MeshError(
        Code.UNAVAILABLE,
        `no healthy agent for ${describe(target)}: none is registered, or all are draining, unhealthy or ejected`,
      )
    );
  }

  /**
   * Invokes a streamed method on an agent matching `target` and yields its chunks as they arrive. Failover
   * happens only before the first chunk; after it, a failure ends the stream with its error. A stream that stays
   * silent for `idleTimeoutMs` is cancelled (DEADLINE_EXCEEDED).
   */
  async *stream(
    target: TargetQuery,
    method: string,
    payload: Buffer | string | unknown,
    options: MeshStreamOptions = {},
  ): AsyncGenerator<MeshStreamChunk> {
    const parent = currentContext();
    const deadline = Math.min(
      options.timeoutMs ? Date.now() + options.timeoutMs : Infinity,
      parent?.deadline ?? Infinity,
    );
    const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    const metadata = this.outboundMetadata(parent, options);
    const request = { method, ...encode(payload, options.contentType) };
    const balancer = this.targetFor(target, options.balancer ?? this.options.defaultBalancer ?? 'p2c-ewma');
    const tried = new Set<string>();
    let lastError: MeshError | undefined;
    this.budget.recordCall();
    for (let attempt = 0; attempt < (this.options.maxAttempts ?? 3); attempt += 1) {
      const endpoint = balancer.pick(
        options.key !== undefined ? { exclude: tried, key: options.key } : { exclude: tried },
      );
      if (!endpoint) break;
      tried.add(endpoint.id);
      const member = this.members.get(endpoint.id)!;
      const call = member.channel.InvokeStream(
        request,
        metadata,
        Number.isFinite(deadline) ? { deadline } : {},
      );
      const iterator = call[Symbol.asyncIterator]() as AsyncIterator<MeshStreamChunk>;
      let idle: NodeJS.Timeout | undefined;
      let idledOut = false;
      const next = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          idledOut = true;
          call.cancel();
        }, idleTimeoutMs);
        return iterator.next();
      };
      const started = performance.now();
      endpoint.stats.start();
      let first: IteratorResult<MeshStreamChunk>;
      try {
        first = await next();
      } catch (caught) {
        clearTimeout(idle);
        const error = caught as grpc.ServiceError;
        endpoint.stats.finish(performance.now() - started, false);
        lastError = idledOut
          ? new MeshError(Code.DEADLINE_EXCEEDED, `stream idle for ${idleTimeoutMs}ms`)
          : fromServiceError(error);
        const retryable =
          !idledOut && RETRYABLE.has(error.code) && (options.idempotent || neverReached(error));
        if (!retryable || !this.budget.tryRetry()) throw lastError;
        continue;
      }
      endpoint.stats.finish(performance.now() - started, true); // time to the first chunk
      try {
        for (let result = first; !result.done; result = await next()) {
          yield { payload: result.value.payload, contentType: result.value.contentType };
        }
      } catch (caught) {
        if (idledOut) throw new MeshError(Code.DEADLINE_EXCEEDED, `stream idle for ${idleTimeoutMs}ms`);
        throw fromServiceError(caught);
      } finally {
        clearTimeout(idle);
        call.cancel(); // no-op after a normal end; stops the callee when the consumer stops early
      }
      return;
    }
    throw lastError ?? new MeshError(Code.UNAVAILABLE, `no healthy agent for ${describe(target)}`);
  }

  /** The metadata of an outbound call: the current context, with the conversation or tenant a call starts. */
  private outboundMetadata(
    parent: CallContext | undefined,
    options: { conversationId?: string; tenant?: string },
  ): grpc.Metadata {
    const context: CallContext | undefined =
      options.conversationId || options.tenant
        ? {
            chain: [],
            ...parent,
            ...(options.conversationId ? { conversationId: options.conversationId } : {}),
            ...(options.tenant ? { tenant: options.tenant } : {}),
          }
        : parent;
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(
      outboundContext(this.options.identity.spiffeId.uri, context, this.options.hopLimit),
    )) {
      metadata.set(key, value);
    }
    return metadata;
  }

  /** Closes every channel. */
  close(): void {
    this.stopListening();
    for (const member of this.members.values()) member.channel.close();
    this.members.clear();
    this.targets.clear();
  }

  private invoke(
    channel: AgentClient,
    request: { method: string; payload: Buffer; contentType: string },
    metadata: grpc.Metadata,
    deadline: number,
  ): Promise<{ payload: Buffer; contentType: string }> {
    return new Promise((resolve, reject) => {
      channel.Invoke(request, metadata, { deadline }, (error, response) =>
        error || !response ? reject(error) : resolve(response),
      );
    });
  }

  private targetFor(query: TargetQuery, name: BalancerName): LoadBalancer {
    const key = `${name}|${query.type ?? ''}|${(query.capabilities ?? []).join(',')}|${query.labelSelector ?? ''}`;
    let target = this.targets.get(key);
    if (!target) {
      target = { query, balancer: createBalancer(name, this.random), version: -1 };
      this.targets.set(key, target);
    }
    if (target.version !== this.version) {
      target.balancer.update(this.options.cache.select(query).map((record) => this.member(record).endpoint));
      target.version = this.version;
    }
    return target.balancer;
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
    existing?.channel.close();
    const { protos } = loadMeshProtos();
    const member: Member = {
      record,
      endpoint: {
        id: record.id,
        weight: record.spec.weight,
        reported: record.load,
        stats: new EndpointStats(),
      },
      channel: new protos.agentmesh.v1.Agent(
        record.spec.endpoint,
        createChannelCredentials(this.options.identity, record.spiffeId),
        MESH_CHANNEL_OPTIONS,
      ),
    };
    this.members.set(record.id, member);
    return member;
  }

  /** After a registry change: targets recompute their endpoints, channels to departed agents close. */
  private refresh(): void {
    this.version += 1;
    const present = new Set<string>();
    for (const id of this.members.keys()) if (this.options.cache.get(id)) present.add(id);
    for (const [id, member] of this.members) {
      if (!present.has(id)) {
        member.channel.close();
        this.members.delete(id);
      }
    }
    this.outliers.retain(present);
  }
}
