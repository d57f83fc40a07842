/**
 * What one client knows about one endpoint: calls in flight now, and a peak-sensitive moving average of latency
 * (peak EWMA, as in Finagle and Linkerd): a slower observation replaces the average at once, faster ones pull it
 * down gradually, so an endpoint that turns slow is avoided immediately and trusted again only slowly.
 */
export class EndpointStats {
  private inFlightCount = 0;
  private ewmaMs: number;
  private lastUpdate: number;
  private consecutive = 0;

  constructor(
    private readonly clock: { now(): number } = { now: () => performance.now() },
    /** Decay time constant: how long an old observation keeps weight (default 10 s). */
    private readonly decayMs = 10_000,
    /** Assumed latency of an endpoint with no observations yet, so that new endpoints get tried (default 1 ms). */
    initialMs = 1,
  ) {
    this.ewmaMs = initialMs;
    this.lastUpdate = clock.now();
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** The current peak-EWMA latency estimate in milliseconds. */
  get latencyMs(): number {
    return this.ewmaMs;
  }

  /** Consecutive failed calls (reset by a success). */
  get consecutiveFailures(): number {
    return this.consecutive;
  }

  /** A call to the endpoint starts. */
  start(): void {
    this.inFlightCount += 1;
  }

  /** A call ends: its latency and whether it succeeded (a failure counts toward outlier ejection). */
  finish(latencyMs: number, ok: boolean): void {
    this.end();
    this.observe(latencyMs, ok);
  }

  /** A call stops being in flight without a new observation (a stream, observed at its first chunk, ends). */
  end(): void {
    this.inFlightCount = Math.max(0, this.inFlightCount - 1);
  }

  /**
   * Records a latency and an outcome while the call stays in flight: a stream's time to its first chunk, after
   * which it stays open (and counts as load) until {@link EndpointStats.end}.
   */
  observe(latencyMs: number, ok: boolean): void {
    this.consecutive = ok ? 0 : this.consecutive + 1;
    const now = this.clock.now();
    if (latencyMs > this.ewmaMs) {
      this.ewmaMs = latencyMs;
    } else {
      const weight = Math.exp(-Math.max(0, now - this.lastUpdate) / this.decayMs);
      this.ewmaMs = this.ewmaMs * weight + latencyMs * (1 - weight);
    }
    this.lastUpdate = now;
  }

  /**
   * The cost the p2c strategy minimizes: expected latency times the queue in front of a new call. The latency
   * estimate decays toward zero while the endpoint gets no calls (as in Finagle's peak EWMA), so an endpoint
   * that lost the comparisons for a while is tried again instead of being starved forever.
   */
  cost(): number {
    const idle = Math.max(0, this.clock.now() - this.lastUpdate);
    return this.ewmaMs * Math.exp(-idle / this.decayMs) * (this.inFlightCount + 1);
  }
}
