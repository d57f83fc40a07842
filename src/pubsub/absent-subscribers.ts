import type { Pending, Route } from './delivery-state.js';

/** The default of `PublisherOptions.absentRetentionMs`: how long deliveries wait for an absent subscriber. */
export const DEFAULT_ABSENT_RETENTION_MS = 60_000;

/** Options of {@link AbsentSubscribers}. */
export interface AbsentSubscribersOptions {
  /** How long a delivery waits for its subscriber to be reachable again before it is dead-lettered. */
  retentionMs: number;
  /** The first probe delay, doubling per route up to `maxBackoffMs`, with equal jitter. */
  backoffMs: number;
  maxBackoffMs: number;
  random: () => number;
  /** Queues a held delivery again for its route (see `DeliveryQueue.requeue`). */
  requeue(pending: Pending): void;
  /** Gives up on a delivery whose subscriber stayed away longer than the retention. */
  deadLetter(pending: Pending, reason: string): void;
}

interface Held {
  pendings: Pending[];
  timer: NodeJS.Timeout | undefined;
}

/**
 * Deliveries held for subscribers that cannot take them now: the link broke or cannot connect, or the
 * subscription's agent left the registry (a restart registers it again under the same name). Unlike a failing
 * handler, an absent subscriber consumes no attempt: its deliveries wait here, per route, and go again when the
 * registry changes ({@link AbsentSubscribers.releaseAll}) or when a probe comes due (a backoff per route, so that a
 * link that reconnects is noticed). A delivery held for longer than the retention, counted from when its
 * subscriber was first found absent (and not heard from since), is dead-lettered the next time it comes back here.
 */
export class AbsentSubscribers {
  private readonly held = new Map<Route, Held>();
  private count = 0;

  constructor(private readonly options: AbsentSubscribersOptions) {}

  /** Deliveries held now. */
  get size(): number {
    return this.count;
  }

  /** Whether `route` has deliveries held (its subscriber was found absent, and no probe or change came since). */
  holds(route: Route): boolean {
    return this.held.has(route);
  }

  /** Holds `pending` until its subscriber is reachable again, or dead-letters it past the retention. */
  hold(pending: Pending, reason: string, now = Date.now()): void {
    pending.lastFailure = reason;
    // Counted from when the subscriber was first found absent: the events queued behind an ordering key get no
    // retention of their own each, one after the other.
    pending.route.absentSince ||= now;
    pending.absentSince ||= pending.route.absentSince;
    if (now - pending.absentSince >= this.options.retentionMs) {
      this.options.deadLetter(
        pending,
        `the subscriber was absent for more than absentRetentionMs (${this.options.retentionMs} ms): ${reason}`,
      );
      return;
    }
    let held = this.held.get(pending.route);
    if (!held) {
      held = { pendings: [], timer: undefined };
      this.held.set(pending.route, held);
    }
    held.pendings.push(pending);
    this.count += 1;
    if (!held.timer) {
      const entry = held;
      const route = pending.route;
      const exponential = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** route.probes);
      route.probes += 1;
      const delay = exponential / 2 + (this.options.random() * exponential) / 2;
      entry.timer = setTimeout(() => this.release(pending.route, entry), delay);
    }
  }

  /** A route's subscriber answered: its next absence starts probing from the first backoff again. */
  seen(route: Route): void {
    route.probes = 0;
    route.absentSince = 0;
  }

  /** After a registry change (a subscriber may be back): every held delivery goes again now. */
  releaseAll(): void {
    for (const [route, held] of [...this.held]) {
      route.probes = 0;
      this.release(route, held);
    }
  }

  /** Stops the probes; what is held stays pending (the publisher is closing). */
  close(): void {
    for (const held of this.held.values()) clearTimeout(held.timer);
    this.held.clear();
  }

  private release(route: Route, held: Held): void {
    clearTimeout(held.timer);
    held.timer = undefined;
    if (this.held.get(route) !== held) return;
    this.held.delete(route);
    this.count -= held.pendings.length;
    // Requeued at the front, last first: they go in the order they were held, before later events.
    for (let i = held.pendings.length - 1; i >= 0; i -= 1) this.options.requeue(held.pendings[i]!);
  }
}
