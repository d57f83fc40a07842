import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentRecord } from '../core/agent-record.js';
import { Code, MeshError, codeName } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import type { AttemptFailure, AttemptOutcome, SendProbe } from '../transport/agent-connection.js';
import { describeQuery, type TargetQuery } from './endpoint-cache.js';
import type { EndpointPool, Member } from './endpoint-pool.js';
import type { BalancerName } from './load-balancer.js';
import { OutlierDetector, type OutlierSettings } from './outlier-detector.js';
import { RetryBudget, backoffDelay, type RetryBudgetSettings } from './retry-budget.js';

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

/** Options for {@link AttemptLoop}. */
export interface AttemptLoopOptions {
  logger: Logger;
  /** Most attempts per call, the first included (default 3). */
  maxAttempts?: number;
  outliers?: Partial<OutlierSettings>;
  retryBudget?: Partial<RetryBudgetSettings>;
  random: () => number;
  observer?: CallObserver;
}

/** Where and how one call is routed. */
export interface AttemptPlan {
  query: TargetQuery;
  strategy: BalancerName;
  /** Consistent-hashing key. */
  key?: string;
  /** The call may run twice without harm: it fails over even after reaching a handler. */
  idempotent: boolean;
  /** In ms since the epoch (Infinity: none). */
  deadline: number;
  /** The method, as metrics and call reports name it. */
  method: string;
  /** Told before each attempt (a span's callee attributes). */
  onAttempt?: (callee: AgentRecord, attempt: number) => void;
}

/** A call an instance took (its answer, or a stream's first chunk), until {@link Committed.finish} ends it. */
export interface Committed<T> {
  value: T;
  member: Member;
  attempts: number;
  /**
   * The call ended at its instance: `error` when it failed after it was taken (a stream cut mid-answer), counted
   * against the instance unless `final` says the failure was not the instance's (an idle consumer timeout).
   * Idempotent: only the first end counts.
   */
  finish(error?: MeshError, final?: boolean): void;
}

/** Codes that mean the instance could not take the call: worth another instance. */
const RETRYABLE = new Set<number>([Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED]);
/** Codes that count against an instance for outlier ejection (see {@link countsAgainst}). */
const INSTANCE_FAILURES = new Set<number>([
  Code.UNAVAILABLE,
  Code.INTERNAL,
  Code.UNKNOWN,
  Code.DEADLINE_EXCEEDED,
]);

/**
 * Whether a failed attempt may go to another instance: a code that says the instance could not take the call,
 * when the call is idempotent or certainly never ran there; and for an idempotent call, also an INTERNAL that the
 * server never sent: a transport reset, as an overloaded machine produces, or a stream that ended mid-answer
 * because its server died or exited.
 */
function retryable(failure: AttemptFailure, idempotent: boolean, neverRan: boolean): boolean {
  const { code } = failure.error;
  if (RETRYABLE.has(code)) return idempotent || neverRan;
  return idempotent && code === Code.INTERNAL && !failure.serverStatus;
}

/**
 * Whether a failed attempt counts against its instance for outlier ejection: it failed, or it gave no answer at all
 * within the deadline (a hung instance answers nothing). A DEADLINE_EXCEEDED the instance sent itself (its queue
 * expired the call, or the call arrived too late) speaks of the caller's budget, not of the instance.
 */
function countsAgainst(code: number, answered: boolean): boolean {
  return INSTANCE_FAILURES.has(code) && (code !== Code.DEADLINE_EXCEEDED || !answered);
}

/**
 * The one attempt loop of the mesh's calls, generic and typed, unary and streamed: it picks a healthy instance
 * with the call's strategy (avoiding ejected ones and those that pushed back), runs one attempt there, accounts for
 * it (latency and in-flight statistics, outlier ejection, metrics), and on a retryable failure moves to a
 * different instance within the retry budget, with jittered backoff, never past the deadline.
 */
export class AttemptLoop {
  private readonly outliers: OutlierDetector;
  private readonly budget: RetryBudget;
  /** Instances that refused with a retry-after hint, until when. */
  private readonly pushedBack = new Map<string, number>();

  constructor(
    private readonly pool: EndpointPool,
    private readonly options: AttemptLoopOptions,
  ) {
    this.outliers = new OutlierDetector(options.outliers);
    this.budget = new RetryBudget(options.retryBudget);
    pool.onRefresh = (present) => this.outliers.retain(present);
  }

  /**
   * Runs `attempt` at instances of the plan's target until one takes the call.
   * @throws MeshError the last attempt's error, UNAVAILABLE when no healthy instance matches, FAILED_PRECONDITION
   * when the client was closed.
   */
  async run<T>(
    plan: AttemptPlan,
    attempt: (member: Member, probe: SendProbe) => Promise<AttemptOutcome<T>>,
  ): Promise<Committed<T>> {
    const maxAttempts = this.options.maxAttempts ?? 3;
    const observer = this.options.observer;
    const tried = new Set<string>();
    let lastError: MeshError | undefined;
    // A query the registry view does not follow yet: once, wait (within the deadline) until it does.
    const covering = this.pool.cover(plan.query, plan.deadline);
    if (covering) await covering;
    this.budget.recordCall();
    for (let n = 0; n < maxAttempts; n += 1) {
      const picked = this.pool.pick(plan.query, plan.strategy, plan.key, tried, this.avoided());
      if (!picked) break;
      const { member } = picked;
      const { endpoint, record, connection } = member;
      plan.onAttempt?.(record, n + 1);
      const started = performance.now();
      endpoint.stats.start();
      const probe = connection.acquire();
      let outcome: AttemptOutcome<T>;
      try {
        outcome = await attempt(member, probe);
      } catch (error) {
        // An attempt that could not even start (the call was cancelled, or its request cannot be sent) ends it.
        outcome = {
          ok: false,
          error: MeshError.from(error),
          answered: false,
          serverStatus: false,
          neverSent: true,
          final: true,
        };
      }
      const elapsed = performance.now() - started;
      if (outcome.ok) {
        // Its latency is the time to the answer (a stream's first chunk); it stays in flight until it ends.
        endpoint.stats.observe(elapsed, true);
        this.outliers.record(endpoint.id, true, picked.target.ids);
        if (n > 0) observer?.failover(record.spec.type);
        let finished = false;
        return {
          value: outcome.value,
          member,
          attempts: n + 1,
          finish: (error, final) => {
            if (finished) return;
            finished = true;
            endpoint.stats.end();
            connection.release();
            const code = error?.code ?? Code.OK;
            observer?.attempt(record, plan.method, code, performance.now() - started, error);
            if (error && !final && countsAgainst(code, true))
              this.recordFailure(endpoint.id, record, picked.target.ids);
          },
        };
      }
      endpoint.stats.finish(elapsed, false);
      connection.release();
      const { error } = outcome;
      observer?.attempt(record, plan.method, error.code, elapsed, error);
      if (outcome.final) throw error;
      if (countsAgainst(error.code, outcome.answered))
        this.recordFailure(endpoint.id, record, picked.target.ids);
      lastError = error;
      // A refusal with a retry-after hint comes from the callee's queue: the call never ran, so it may go to
      // another instance; this one is avoided until the hint expires.
      const pushedBack = this.notePushback(endpoint.id, error);
      if (!retryable(outcome, plan.idempotent, outcome.neverSent || pushedBack)) throw error;
      await this.beforeRetry(error, endpoint.id, n, plan.deadline);
      observer?.retry(record.spec.type);
    }
    if (!lastError) observer?.unrouted(plan.query.type ?? 'unknown', plan.method);
    throw lastError ?? noAgent(plan.query);
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
  private recordFailure(id: string, record: AgentRecord, targetIds: readonly string[]): void {
    if (this.outliers.record(id, false, targetIds)) this.options.observer?.ejection(record.spec.type);
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
    if (this.pool.closed || Date.now() >= deadline || !this.budget.tryRetry()) throw error;
    this.options.logger.debug({ agent, code: codeName(error.code), attempt }, 'failing over');
    await sleep(Math.min(backoffDelay(attempt, this.options.random), Math.max(0, deadline - Date.now())));
    if (Date.now() >= deadline) throw error;
  }
}

function noAgent(query: TargetQuery): MeshError {
  return new MeshError(
    Code.UNAVAILABLE,
    `no healthy agent for ${describeQuery(query)}: none is registered, or all are draining, unhealthy or ejected`,
  );
}
