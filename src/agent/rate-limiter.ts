import { Code, MeshError, quote } from '../core/errors.js';
import { TokenBuckets, type Bucket } from '../core/token-buckets.js';
import { admissionRefusal } from '../transport/status.js';
import { rateLimitMatches, type RateLimit } from '../core/policy.js';

/** What a call is, for the limits: who calls whom and what. */
export interface LimitedCall {
  caller: string;
  /** The caller's entitled agent types. */
  callerTypes?: readonly string[];
  targetType: string;
  method: string;
}

/**
 * The callee's side of per-caller rate limits: for every limit that matches a call, the caller has a budget of
 * calls (a token bucket of `requestsPerSecond`, bursts of `burst`) and of LLM tokens (`tokensPerMinute`, charged
 * after the call with the tokens its handler reported; a call starts while the budget is positive).
 */
export class CallerRateLimiter {
  /** Caller budgets: at most 10,000, the ones idle longest forgotten (they refill to full anyway). */
  private readonly budgets = new TokenBuckets(10_000);

  constructor(private readonly clock: { now(): number } = { now: () => Date.now() }) {}

  /**
   * Checks a call against the caller's budgets, charging nothing yet: the returned `take` charges the call (once it
   * is admitted and about to run) and returns the function that charges the tokens it used when it ends.
   * @throws MeshError RESOURCE_EXHAUSTED naming the limit, with `retryAfterMs` (when the budget allows a call).
   */
  check(limits: readonly RateLimit[], call: LimitedCall): { take(): (tokens: number) => void } {
    const now = this.clock.now();
    const calls: Bucket[] = [];
    const tokens: Bucket[] = [];
    for (const limit of limits) {
      if (!rateLimitMatches(limit, call)) continue;
      if (limit.requestsPerSecond > 0) {
        const perMs = limit.requestsPerSecond / 1000;
        const capacity = limit.burst || Math.max(1, Math.ceil(limit.requestsPerSecond));
        const bucket = this.bucket(`${limit.id}|calls|${call.caller}`, capacity, now, perMs);
        if (bucket.level < 1) throw this.refusal(limit, call, (1 - bucket.level) / perMs, 'calls');
        calls.push(bucket);
      }
      if (limit.tokensPerMinute > 0) {
        const perMs = limit.tokensPerMinute / 60_000;
        const bucket = this.bucket(`${limit.id}|tokens|${call.caller}`, limit.tokensPerMinute, now, perMs);
        if (bucket.level <= 0) throw this.refusal(limit, call, (1 - bucket.level) / perMs, 'tokens');
        tokens.push(bucket);
      }
    }
    return {
      take: () => {
        for (const bucket of calls) bucket.level -= 1;
        return (used) => {
          if (!(used > 0)) return;
          for (const bucket of tokens) bucket.level -= used;
        };
      },
    };
  }

  /** A caller's bucket, refilled for the time since it was last used. */
  private bucket(key: string, capacity: number, now: number, perMs: number): Bucket {
    return this.budgets.get(key, capacity, now, perMs);
  }

  private refusal(limit: RateLimit, call: LimitedCall, waitMs: number, what: 'calls' | 'tokens'): MeshError {
    const retryAfterMs = Math.max(1, Math.ceil(waitMs));
    const budget =
      what === 'calls'
        ? `${limit.requestsPerSecond} calls per second`
        : `${limit.tokensPerMinute} tokens per minute`;
    return admissionRefusal(
      new MeshError(
        Code.RESOURCE_EXHAUSTED,
        `rate limit ${quote(limit.id)}: ${quote(call.caller)} may make ${budget} to ${call.targetType}.${call.method}; retry after ${retryAfterMs} ms`,
        { retryAfterMs },
      ),
    );
  }
}
