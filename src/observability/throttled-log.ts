import type { Logger } from './logger.js';

/** Options for {@link ThrottledLog}. */
export interface ThrottledLogOptions {
  logger: Logger;
  /** The message of every line, e.g. `event refused`. */
  message: string;
  /** After a line, the next one waits this long and counts what came meanwhile (default 10 s). */
  periodMs?: number;
  clock?: { now(): number };
}

/**
 * A warning that a peer can repeat at will (a refused delivery, a malformed request), logged in bounded volume:
 * the first one at once and in full, then at most one line per period, which counts the warnings since the last
 * line and shows the fields of the latest. A flood of any size costs one line per period; when it stops, the next
 * warning is logged at once again.
 */
export class ThrottledLog {
  private readonly clock: { now(): number };
  private readonly periodMs: number;
  /** Set while a period runs: warnings wait for its end. */
  private timer: NodeJS.Timeout | undefined;
  private lastLineAt = 0;
  private held = 0;
  private latest: Record<string, unknown> = {};

  constructor(private readonly options: ThrottledLogOptions) {
    this.clock = options.clock ?? { now: () => Date.now() };
    this.periodMs = options.periodMs ?? 10_000;
  }

  /** Logs a warning now, or counts it for the line at the end of the period. */
  warn(fields: Record<string, unknown>): void {
    if (this.timer) {
      this.held += 1;
      this.latest = fields;
      return;
    }
    this.options.logger.warn(fields, this.options.message);
    this.startPeriod();
  }

  /** Logs what is still counted and stops the timer (the owner is closing). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.summarize();
  }

  private startPeriod(): void {
    this.lastLineAt = this.clock.now();
    this.timer = setTimeout(() => this.periodEnded(), this.periodMs);
    this.timer.unref();
  }

  private periodEnded(): void {
    this.timer = undefined;
    // A flood goes on: the next period starts with this line, so it keeps to one line per period.
    if (this.summarize()) this.startPeriod();
  }

  /** Logs the count held since the last line, if any; says whether it did. */
  private summarize(): boolean {
    if (this.held === 0) return false;
    const seconds = ((this.clock.now() - this.lastLineAt) / 1000).toFixed(1);
    this.options.logger.warn(
      { ...this.latest, repeated: this.held },
      `${this.options.message}: ${this.held} more in the last ${seconds} s (the latest shown)`,
    );
    this.held = 0;
    this.latest = {};
    return true;
  }
}
