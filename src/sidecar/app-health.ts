import type { HealthImplementation } from 'grpc-health-check';
import type { Logger } from '../observability/logger.js';
import type { AppHealth } from './app-connection.js';

/** Checks in a row the app must leave unanswered before a SERVING agent turns NOT_SERVING. */
const UNANSWERED_CHECKS = 3;

/** Options for {@link AppHealthMonitor}. */
export interface AppHealthMonitorOptions {
  /** Asks the app how it is (its `grpc.health.v1` Check), within a timeout. */
  check: (timeoutMs: number) => Promise<AppHealth>;
  /** The health of the sidecar's mTLS server, which the control plane's active checks read. */
  health: HealthImplementation;
  /** The services whose status follows the app's, besides the whole server (""). */
  services: string[];
  /** Time between two checks (default 1 s); a check times out after the same time, at most 2 s. */
  intervalMs?: number;
  logger: Logger;
}

/**
 * Mirrors the app's `grpc.health.v1` on the sidecar's mTLS server: while the app answers SERVING, the sidecar's
 * server (and the `agentmesh.v1.Agent` service) is SERVING; when the app answers anything else or cannot be
 * reached three checks in a row, they turn NOT_SERVING, so the control plane's active health checks mark the agent unhealthy (and
 * healthy again once the app recovers), as for any agent. One check at a time.
 */
export class AppHealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private current: boolean | undefined;
  private unanswered = 0;
  private readonly intervalMs: number;

  constructor(private readonly options: AppHealthMonitorOptions) {
    this.intervalMs = options.intervalMs ?? 1_000;
  }

  /** Whether the app was SERVING at the last check (undefined before the first). */
  get serving(): boolean | undefined {
    return this.current;
  }

  /** Starts checking, taking `initial` (the result of a check made at start) as the first. */
  start(initial?: AppHealth): void {
    this.stopped = false;
    if (initial) this.apply(initial);
    this.schedule();
  }

  /** Stops checking; the server's health is left as it is (a drain turns it NOT_SERVING). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.options.check(Math.min(this.intervalMs, 2_000)).then((health) => {
        if (this.stopped) return;
        this.apply(health);
        this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  private apply(health: AppHealth): void {
    // An app that answers NOT_SERVING is believed at once; one that does not answer in time is given two more
    // checks, so that a busy moment (a pause of this process or the app) does not take the agent out of rotation.
    if (!health.ok && this.current === true && ++this.unanswered < UNANSWERED_CHECKS) return;
    if (health.ok) this.unanswered = 0;
    const serving = health.ok && health.serving;
    if (serving === this.current) return;
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    for (const service of ['', ...this.options.services]) this.options.health.setStatus(service, status);
    const why = health.ok ? `the app answers ${health.status || 'nothing'}` : `the app: ${health.reason}`;
    if (serving) this.options.logger.info('app is SERVING: the agent serves again');
    else this.options.logger.warn({ why }, 'app is not serving: the agent reports NOT_SERVING');
    this.current = serving;
  }
}
