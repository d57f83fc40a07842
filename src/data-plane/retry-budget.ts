/** Retry budget settings. */
export interface RetryBudgetSettings {
  /** Retries allowed as a share of recent calls (default 0.2). */
  ratio: number;
  /** Retries always allowed per window, so that a quiet client can still fail over (default 10). */
  minPerWindow: number;
  /** The window over which calls and retries are counted (default 10 s). */
  windowMs: number;
}

export const DEFAULT_RETRY_BUDGET: RetryBudgetSettings = { ratio: 0.2, minPerWindow: 10, windowMs: 10_000 };

/**
 * Bounds retries so that failover cannot multiply load on a struggling target: within a sliding window, retries
 * may not exceed `ratio` of the calls made plus a small floor. Counted in ten buckets per window.
 */
export class RetryBudget {
  private readonly settings: RetryBudgetSettings;
  private readonly calls: number[] = new Array(10).fill(0);
  private readonly retries: number[] = new Array(10).fill(0);
  private bucket = 0;
  private bucketStart: number;

  constructor(
    settings: Partial<RetryBudgetSettings> = {},
    private readonly clock: { now(): number } = { now: () => Date.now() },
  ) {
    this.settings = { ...DEFAULT_RETRY_BUDGET, ...settings };
    this.bucketStart = clock.now();
  }

  /** A first attempt is made. */
  recordCall(): void {
    this.advance();
    this.calls[this.bucket]! += 1;
  }

  /** Asks to retry; when it returns true, the retry is counted against the budget. */
  tryRetry(): boolean {
    this.advance();
    const calls = this.calls.reduce((a, b) => a + b, 0);
    const retries = this.retries.reduce((a, b) => a + b, 0);
    if (retries >= this.settings.minPerWindow + this.settings.ratio * calls) return false;
    this.retries[this.bucket]! += 1;
    return true;
  }

  private advance(): void {
    const bucketMs = this.settings.windowMs / 10;
    const now = this.clock.now();
    let steps = Math.floor((now - this.bucketStart) / bucketMs);
    if (steps <= 0) return;
    this.bucketStart += steps * bucketMs;
    for (steps = Math.min(steps, 10); steps > 0; steps -= 1) {
      this.bucket = (this.bucket + 1) % 10;
      this.calls[this.bucket] = 0;
      this.retries[this.bucket] = 0;
    }
  }
}

/** Exponential backoff with full jitter: a random delay up to `baseMs * 2^attempt`, capped. */
export function backoffDelay(
  attempt: number,
  random: () => number = Math.random,
  baseMs = 25,
  capMs = 1_000,
): number {
  return random() * Math.min(capMs, baseMs * 2 ** attempt);
}
