/** Settings of a {@link Backoff}. */
export interface BackoffSettings {
  /** The first delay (default 100 ms). */
  initialMs: number;
  /** The longest delay (default 5 s). */
  maxMs: number;
  /** Each failure multiplies the delay by this (default 2). */
  multiplier: number;
  /** Share of each delay that is random (default 0.5: a delay lies between half and all of its step). */
  jitter: number;
}

/**
 * Reconnection backoff for the loops that talk to the control plane: 100 ms doubling to 5 s. The cap is short on
 * purpose: an agent must find a control plane that came back within seconds (its registration may be gone), and
 * the jitter keeps a fleet that lost the same control plane from coming back in step.
 */
export const DEFAULT_RECONNECT_BACKOFF: BackoffSettings = {
  initialMs: 100,
  maxMs: 5_000,
  multiplier: 2,
  jitter: 0.5,
};

/**
 * Jittered exponential backoff for one loop: `next()` gives the delay before the next attempt and counts the
 * failure; `reset()` after a success (or a stable period) starts over from the first delay. Pure: the random source
 * is injected.
 */
export class Backoff {
  private readonly settings: BackoffSettings;
  private failures = 0;

  constructor(
    settings: Partial<BackoffSettings> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.settings = { ...DEFAULT_RECONNECT_BACKOFF, ...settings };
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** Counts a failure and returns how long to wait before trying again. */
  next(): number {
    const { initialMs, maxMs, multiplier, jitter } = this.settings;
    const step = Math.min(maxMs, initialMs * multiplier ** Math.min(this.failures, 64));
    this.failures += 1;
    return step * (1 - jitter) + step * jitter * this.random();
  }

  reset(): void {
    this.failures = 0;
  }
}
