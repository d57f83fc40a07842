import type { AgentRecord } from '../core/agent-record.js';
import { currentContext } from '../core/call-context.js';
import type { MeshError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import type { InvokeAnswer } from '../transport/agent-connection.js';
import type { MeshIdentity } from '../transport/mesh-identity.js';
import { AttemptLoop, type AttemptPlan, type CallObserver } from './attempt-loop.js';
import {
  ENDED,
  callDeadline,
  composeClient,
  outboundHeaders,
  traceIdOf,
  tracing,
  type ClientAnswer,
  type ClientCall,
  type ClientHandler,
  type ClientInterceptor,
} from './client-pipeline.js';
import type { EndpointCache, TargetQuery } from './endpoint-cache.js';
import { EndpointPool } from './endpoint-pool.js';
import type { BalancerName } from './load-balancer.js';
import type { OutlierSettings } from './outlier-detector.js';
import type { RetryBudgetSettings } from './retry-budget.js';
import { RoutedChannel, type TypedChannel, type TypedChannelOptions } from './routed-channel.js';

export type { CallObserver };

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

function encode(
  payload: Buffer | string | unknown,
  contentType: string | undefined,
): { payload: Buffer; contentType: string } {
  if (Buffer.isBuffer(payload)) return { payload, contentType: contentType ?? 'application/octet-stream' };
  if (typeof payload === 'string')
    return { payload: Buffer.from(payload), contentType: contentType ?? 'text/plain' };
  return { payload: Buffer.from(JSON.stringify(payload)), contentType: contentType ?? 'application/json' };
}

/** The generic service's name, as spans give it. */
const AGENT_SERVICE = 'agentmesh.v1.Agent';

/**
 * The in-process proxy: calls agents by type, capability or labels. It picks a healthy instance from the endpoint
 * cache with the chosen strategy, keeps one mTLS channel per instance (checking each instance's registered SPIFFE
 * ID, and reconnecting when this process's certificate is renewed), fails over to a different instance on
 * retryable failures within a retry budget, ejects instances that keep failing, and gives every call a deadline.
 * Generic calls, streams and typed clients (see {@link MeshClient.channel}) go through the same interceptors
 * (tracing, context) and the same attempt loop.
 */
export class MeshClient {
  private readonly pool: EndpointPool;
  private readonly loop: AttemptLoop;
  private readonly interceptors: readonly ClientInterceptor[];

  constructor(private readonly options: MeshClientOptions) {
    const random = options.random ?? Math.random;
    this.pool = new EndpointPool({ identity: options.identity, cache: options.cache, random });
    this.loop = new AttemptLoop(this.pool, {
      logger: options.logger,
      random,
      ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
      ...(options.outliers ? { outliers: options.outliers } : {}),
      ...(options.retryBudget ? { retryBudget: options.retryBudget } : {}),
      ...(options.observer ? { observer: options.observer } : {}),
    });
    this.interceptors = [tracing, outboundHeaders(options.identity.spiffeId.uri, options.hopLimit)];
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
    const call = this.begin(
      target,
      method,
      options,
      options.timeoutMs ?? this.options.defaultTimeoutMs ?? 10_000,
    );
    const plan = this.plan(call, options);
    const answer = await this.run<InvokeAnswer>(call, async () => {
      const request = { method, ...encode(payload, options.contentType) };
      const committed = await this.loop.run(plan, (member, probe) =>
        member.connection.invoke(request, call.headers, call.deadline, probe),
      );
      committed.finish();
      return {
        value: committed.value,
        agent: committed.member.record,
        attempts: committed.attempts,
        ended: ENDED,
      };
    });
    return {
      payload: answer.value.payload,
      contentType: answer.value.contentType,
      agent: answer.agent,
      attempts: answer.attempts,
      traceId: traceIdOf(call.headers),
    };
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
    const call = this.begin(target, method, options, options.timeoutMs || undefined);
    const plan = this.plan(call, options);
    const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    let end!: (error: MeshError | undefined) => void;
    const answer = await this.run(call, async () => {
      const request = { method, ...encode(payload, options.contentType) };
      const committed = await this.loop.run(plan, (member, probe) =>
        member.connection.openStream(request, call.headers, call.deadline, idleTimeoutMs, probe),
      );
      const ended = new Promise<MeshError | undefined>((resolve) => (end = resolve));
      return { value: committed, agent: committed.member.record, attempts: committed.attempts, ended };
    });
    const committed = answer.value;
    const stream = committed.value;
    let failure: MeshError | undefined;
    try {
      for (let result = stream.first; !result.done; result = await stream.next()) {
        yield { payload: result.value.payload, contentType: result.value.contentType };
      }
    } catch (caught) {
      failure = caught as MeshError;
      throw caught;
    } finally {
      stream.cancel(); // no-op after a normal end; stops the callee when the consumer stops early
      committed.finish(failure, stream.idledOut);
      end(failure);
    }
  }

  /**
   * A target, credentials and client options for a typed client (one `proto-loader-gen-types` made for the
   * user's own service) whose calls go to the healthy agents matching `query` through this client's interceptors
   * and attempt loop: balancing, outlier ejection, the retry budget and failover, as for generic calls.
   *
   * ```ts
   * const { target, credentials, options } = agent.mesh.channel({ type: 'translator' });
   * const client = new protos.demo.v1.Translator(target, credentials, options);
   * ```
   * @throws MeshError INVALID_ARGUMENT for an invalid label selector or an unknown balancer.
   */
  channel(query: TargetQuery, options: TypedChannelOptions = {}): TypedChannel {
    return RoutedChannel.create(this.options.identity, this.options.cache, query, options, {
      defaultTimeoutMs: this.options.defaultTimeoutMs ?? 10_000,
      begin: (method, service, deadline, balancer) =>
        this.begin(query, method, { balancer }, undefined, service, deadline),
      plan: (call, callOptions) => this.plan(call, callOptions),
      run: (call, handler) => this.run(call, handler),
      loop: this.loop,
    });
  }

  /**
   * Closes every channel and stops following the registry and identity renewals. Calls already sent finish;
   * later calls fail with FAILED_PRECONDITION.
   */
  close(): void {
    this.pool.close();
  }

  /**
   * A new call: checked against the client's state and strategy (an unknown one fails here, before anything is
   * counted), with its deadline and the context it inherits.
   */
  private begin(
    target: TargetQuery,
    method: string,
    options: Pick<MeshCallOptions, 'balancer' | 'conversationId' | 'tenant' | 'priority'>,
    timeoutMs: number | undefined,
    service = AGENT_SERVICE,
    own?: number,
  ): ClientCall {
    this.pool.assertOpen();
    this.pool.targetFor(target, options.balancer ?? this.options.defaultBalancer ?? 'p2c-ewma');
    const parent = currentContext();
    return {
      query: target,
      method,
      service,
      deadline: callDeadline(
        own ?? (timeoutMs === undefined ? undefined : Date.now() + timeoutMs),
        undefined,
        parent,
      ),
      parent,
      starts: {
        ...(options.conversationId ? { conversationId: options.conversationId } : {}),
        ...(options.tenant ? { tenant: options.tenant } : {}),
        ...(options.priority ? { priority: options.priority } : {}),
      },
      headers: {},
    };
  }

  /** Where and how `call` is routed. */
  private plan(
    call: ClientCall,
    options: Pick<MeshCallOptions, 'balancer' | 'key' | 'idempotent'>,
  ): AttemptPlan {
    return {
      query: call.query,
      strategy: options.balancer ?? this.options.defaultBalancer ?? 'p2c-ewma',
      ...(options.key !== undefined ? { key: options.key } : {}),
      idempotent: options.idempotent ?? false,
      deadline: call.deadline,
      method: call.method,
      onAttempt: (callee, attempt) => call.onAttempt?.(callee, attempt),
    };
  }

  /** Runs `call` through the client's interceptors to `handler`. */
  private run<T>(call: ClientCall, handler: ClientHandler<T>): Promise<ClientAnswer<T>> {
    return composeClient(this.interceptors, handler)(call);
  }
}
