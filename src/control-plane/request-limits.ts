import { Code, MeshError } from '../core/errors.js';
import { TokenBuckets } from '../core/token-buckets.js';

/** A rate: so many requests per second on average, in bursts of up to `burst`. */
export interface RequestRate {
  perSecond: number;
  burst: number;
}

/** How often one identity may call the control plane's writing methods. */
export interface RequestLimitSettings {
  /** Registrations (and re-registrations, e.g. for a subscription change): default 2/s, bursts of 20. */
  register: RequestRate;
  /**
   * Heartbeats: default 5/s, bursts of 20. An agent heartbeats every third of its lease (at least 1 s), and a
   * little faster while it retries, so an agent within its lease is never refused.
   */
  heartbeat: RequestRate;
  /**
   * Certificate renewals (each an RSA signature, about the most CPU a request can cost): default 1/s, bursts of 10.
   * An agent renews at about half its certificate's life; first joins are bound by their one-time tokens instead.
   */
  renewal: RequestRate;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimitSettings = {
  register: { perSecond: 2, burst: 20 },
  heartbeat: { perSecond: 5, burst: 20 },
  renewal: { perSecond: 1, burst: 10 },
};

/**
 * Per-identity rate limits on Register, Heartbeat and certificate renewal, so that one agent (buggy or hostile) that floods them cannot
 * make the control plane write, and every watcher receive, without bound, nor slow down everyone else's calls. A
 * refusal is RESOURCE_EXHAUSTED with a retry-after hint; the agent runtime's loop waits for it.
 */
export class RequestLimiter {
  private readonly settings: RequestLimitSettings;
  private readonly buckets = new TokenBuckets(100_000);

  constructor(
    settings: Partial<RequestLimitSettings> = {},
    private readonly clock: { now(): number } = { now: () => Date.now() },
  ) {
    this.settings = { ...DEFAULT_REQUEST_LIMITS, ...settings };
  }

  /**
   * Takes one request of `method` by `caller` (a SPIFFE ID).
   * @throws MeshError RESOURCE_EXHAUSTED with `retryAfterMs` when the caller is over its rate.
   */
  take(method: keyof RequestLimitSettings, caller: string): void {
    const { perSecond, burst } = this.settings[method];
    if (!(perSecond > 0)) return;
    const perMs = perSecond / 1000;
    const bucket = this.buckets.get(`${method}|${caller}`, Math.max(1, burst), this.clock.now(), perMs);
    if (bucket.level >= 1) {
      bucket.level -= 1;
      return;
    }
    const retryAfterMs = Math.max(1, Math.ceil((1 - bucket.level) / perMs));
    throw new MeshError(
      Code.RESOURCE_EXHAUSTED,
      `"${caller.slice(0, 200)}" is over its ${method} rate of ${perSecond} per second (bursts of ${burst}); retry after ${retryAfterMs} ms`,
      { retryAfterMs },
    );
  }
}
