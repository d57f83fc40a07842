import { Code, MeshError } from '../errors.js';
import { rateLimitMatches, type RateLimit } from '../control-plane/policy.js';

/** Most caller budgets kept; beyond it the ones idle longest are forgotten (they refill to full anyway). */
const MAX_BUDGETS = 10_000;

interface Bucket {
  level: number;
  updatedAt: number;
}

/** What a call is, for the limits: who calls whom and what. */
export interface LimitedCall {
  caller: string;
  callerType?: string;
  targetType: string;
  method: string;
}

/**
 * The callee's side of per-caller rate limits: for every limit that matches a call, the caller has a budget of
 * calls (a token bucket of `requestsPerSecond`, bursts of `burst`) and of LLM tokens (`tokensPerMinute`, charged
 * after the call with the tokens its handler reported; a call starts while the budget is positive).
 */
export class CallerRateLimiter {
  private readonly budgets = new Map<string, Bucket>();

  constructor(private readonly clock: { now(): number } = { now: () => Date.now() }) {}

  /**
   * Takes a call from the callers' budgets; returns the function that charges the tokens it used when it ends.
   * @throws MeshError RESOURCE_EXHAUSTED naming the limit, with `retryAfterMs` (when the budget allows a call).
   */
  admit(limits: readonly RateLimit[], call: LimitedCall): (tokens: number) => void {
    if (limits.length === 0) return () => undefined;
    const now = this.clock.now();
    const charges: Bucket[] = [];
    for (const limit of limits) {
      if (!rateLimitMatches(limit, call)) continue;
      if (limit.requestsPerSecond > 0) {
        const capacity = limit.burst || Math.max(1, Math.ceil(limit.requestsPerSecond));
        const bucket = this.bucket(
          `${limit.id}|calls|${call.caller}`,
          capacity,
          now,
          limit.requestsPerSecond / 1000,
        );
        if (bucket.level < 1) {
          throw this.refusal(limit, call, (1 - bucket.level) / (limit.requestsPerSecond / 1000), 'calls');
        }
        bucket.level -= 1;
      }
      if (limit.tokensPerMinute > 0) {
        const rate = limit.tokensPerMinute / 60_000;
        const bucket = this.bucket(`${limit.id}|tokens|${call.caller}`, limit.tokensPerMinute, now, rate);
        if (bucket.level <= 0) throw this.refusal(limit, call, (1 - bucket.level) / rate, 'tokens');
        charges.push(bucket);
      }
    }
    return (tokens) => {
      if (!(tokens > 0)) return;
      for (const bucket of charges) bucket.level -= tokens;
    };
  }

  /** A caller's bucket, refilled for the time since it was last used. */
  private bucket(key: string, capacity: number, now: number, perMs: number): Bucket {
    let bucket = this.budgets.get(key);
    if (!bucket) {
      if (this.budgets.size >= MAX_BUDGETS) this.budgets.delete(this.budgets.keys().next().value!);
      bucket = { level: capacity, updatedAt: now };
    } else {
      this.budgets.delete(key); // re-inserted below: the map stays in order of last use
      bucket.level = Math.min(capacity, bucket.level + (now - bucket.updatedAt) * perMs);
      bucket.updatedAt = now;
    }
    this.budgets.set(key, bucket);
    return bucket;
  }

  private refusal(limit: RateLimit, call: LimitedCall, waitMs: number, what: 'calls' | 'tokens'): MeshError {
    const retryAfterMs = Math.max(1, Math.ceil(waitMs));
    const budget =
      what === 'calls'
        ? `${limit.requestsPerSecond} calls per second`
        : `${limit.tokensPerMinute} tokens per minute`;
    return new MeshError(
      Code.RESOURCE_EXHAUSTED,
      `rate limit "${limit.id}": "${call.caller}" may make ${budget} to ${call.targetType}.${call.method}; retry after ${retryAfterMs} ms`,
      { retryAfterMs },
    );
  }
}
