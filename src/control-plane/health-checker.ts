import type { Logger } from '../observability/logger.js';
import type { AgentRecord } from '../core/agent-record.js';
import type { Registry } from './registry.js';

/** Asks one agent whether it is serving; resolves true or false, never rejects. */
export type HealthProbe = (agent: AgentRecord, timeoutMs: number) => Promise<boolean>;

/** Active health check settings. */
export interface HealthCheckSettings {
  /** Time between two checks of one agent (default 5 s). */
  intervalMs: number;
  /** A check that has not answered by then fails (default 2 s). */
  timeoutMs: number;
  /** Consecutive failures that make a healthy agent unhealthy (default 3). */
  failureThreshold: number;
  /** Consecutive successes that make an unhealthy agent healthy again (default 2). */
  successThreshold: number;
  /**
   * Damping: after an agent changes state it keeps the new state for at least this long (default 10 s), and the
   * hold doubles, up to 16 times, each time it flips again within twice the hold; a flapping agent then churns
   * watchers at most once per hold.
   */
  holdDownMs: number;
  /**
   * Checks in flight at once, across all agents (default 1024: a check is one HTTP/2 stream, and when many agents
   * hang, each holds its slot for the whole timeout).
   */
  concurrency: number;
}

export const DEFAULT_HEALTH_CHECKS: HealthCheckSettings = {
  intervalMs: 5_000,
  timeoutMs: 2_000,
  failureThreshold: 3,
  successThreshold: 2,
  holdDownMs: 10_000,
  concurrency: 1_024,
};

interface Tracker {
  nextAt: number;
  failures: number;
  successes: number;
  lastTransitionAt: number;
  hold: number;
  inFlight: boolean;
}

/** Options for {@link HealthChecker}. */
export interface HealthCheckerOptions {
  registry: Registry;
  probe: HealthProbe;
  /** Writes a health change (to the store, so that every replica and watcher sees it). */
  setHealth: (id: string, health: 'healthy' | 'unhealthy') => Promise<void>;
  settings?: Partial<HealthCheckSettings>;
  /** Told which agents remain after some left, so the probe can close their channels. */
  retain?: (ids: ReadonlySet<string>) => void;
  logger: Logger;
  clock?: { now(): number };
  random?: () => number;
}

/**
 * Checks every registered agent with its probe on a schedule. One timer drives all agents: each tick starts the
 * checks that are due, up to the concurrency limit, with first checks spread over an interval so that ten
 * thousand agents do not all get probed in the same instant.
 */
export class HealthChecker {
  private readonly settings: HealthCheckSettings;
  private readonly trackers = new Map<string, Tracker>();
  private readonly clock: { now(): number };
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;

  constructor(private readonly options: HealthCheckerOptions) {
    this.settings = { ...DEFAULT_HEALTH_CHECKS, ...options.settings };
    this.clock = options.clock ?? { now: () => Date.now() };
    this.random = options.random ?? Math.random;
  }

  start(): void {
    if (this.timer) return;
    const tickMs = Math.max(20, Math.min(1_000, this.settings.intervalMs / 4));
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
    this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.trackers.clear();
  }

  /** Runs the checks that are due now (the timer calls it; tests may too). */
  tick(): void {
    const now = this.clock.now();
    const present = new Set<string>();
    for (const agent of this.options.registry.all()) {
      present.add(agent.id);
      let tracker = this.trackers.get(agent.id);
      if (!tracker) {
        tracker = {
          nextAt: now + this.random() * this.settings.intervalMs,
          failures: 0,
          successes: 0,
          lastTransitionAt: -Infinity,
          hold: this.settings.holdDownMs,
          inFlight: false,
        };
        this.trackers.set(agent.id, tracker);
      }
      if (agent.health === 'draining' || tracker.inFlight || tracker.nextAt > now) continue;
      if (this.inFlight >= this.settings.concurrency) continue;
      this.check(agent, tracker);
    }
    let departed = false;
    for (const id of this.trackers.keys()) {
      if (!present.has(id)) {
        this.trackers.delete(id);
        departed = true;
      }
    }
    if (departed) this.options.retain?.(present);
  }

  private check(agent: AgentRecord, tracker: Tracker): void {
    tracker.inFlight = true;
    this.inFlight += 1;
    void this.options
      .probe(agent, this.settings.timeoutMs)
      .catch(() => false)
      .then((passed) => this.record(agent.id, tracker, passed))
      .finally(() => {
        tracker.inFlight = false;
        this.inFlight -= 1;
        tracker.nextAt = this.clock.now() + this.settings.intervalMs;
      });
  }

  private async record(id: string, tracker: Tracker, passed: boolean): Promise<void> {
    if (passed) {
      tracker.successes += 1;
      tracker.failures = 0;
    } else {
      tracker.failures += 1;
      tracker.successes = 0;
    }
    const current = this.options.registry.get(id);
    if (!current || current.health === 'draining') return;
    const now = this.clock.now();
    let next: 'healthy' | 'unhealthy' | undefined;
    if (current.health === 'healthy' && tracker.failures >= this.settings.failureThreshold)
      next = 'unhealthy';
    if (current.health === 'unhealthy' && tracker.successes >= this.settings.successThreshold)
      next = 'healthy';
    if (!next || now - tracker.lastTransitionAt < tracker.hold) return;
    // Flipping again soon after the last flip means flapping: hold the next state longer.
    tracker.hold =
      now - tracker.lastTransitionAt < 2 * tracker.hold
        ? Math.min(tracker.hold * 2, this.settings.holdDownMs * 16)
        : this.settings.holdDownMs;
    tracker.lastTransitionAt = now;
    this.options.logger.info({ agent: id, health: next, failures: tracker.failures }, 'agent health changed');
    await this.options.setHealth(id, next).catch((error: unknown) => {
      this.options.logger.warn({ err: error, agent: id }, 'cannot record a health change');
    });
  }
}
